/* fuzz_store: the preloaded store and the input layout that fuzz_store_txn and its seeds share. */
#ifndef SWARMNODE_FUZZ_STORE_H
#define SWARMNODE_FUZZ_STORE_H

#include <stdlib.h>

#include "swarmnode/store.h"

/*
 * Input: the first byte picks the mode, the rest is the payload.
 *   even  transactions: the payload split at '\n', each part applied in turn
 *         (indexes 2, 3, ...) to the preloaded store
 *   odd   a snapshot: the payload restored over the preloaded store
 * The preloaded store (index 1) holds cluster c1, nodes n1 (host1) and n2
 * (host2), services s1 (web) and s2 (db), tasks t1 (s1 on n1), t2 (s1 on n2)
 * and t3 (s2, unassigned).
 */

#define FZS_C1 "c100000000000000000000000"
#define FZS_N1 "n100000000000000000000000"
#define FZS_N2 "n200000000000000000000000"
#define FZS_S1 "s100000000000000000000000"
#define FZS_S2 "s200000000000000000000000"
#define FZS_T1 "t100000000000000000000000"
#define FZS_T2 "t200000000000000000000000"
#define FZS_T3 "t300000000000000000000000"

/* 2026-11-24T22:54:25.604293636Z */
#define FZS_TIME INT64_C(1795560865604293636)

static inline int fzs_add(struct store_txn *txn, enum store_kind kind, json_t *obj)
{
	int rc = obj != NULL ? store_txn_create(txn, kind, obj, NULL, 0) : STORE_E_NOMEM;
	json_decref(obj);
	return rc;
}

/* The preload transaction, encoded into a malloc'd *out. Returns 0 or an error. */
static inline int fzs_preload_txn(uint8_t **out, size_t *len)
{
	struct store_txn *txn = store_txn_new(FZS_TIME);
	if (txn == NULL)
		return STORE_E_NOMEM;
	int rc = fzs_add(txn, STORE_KIND_CLUSTER,
			 json_pack("{s:s, s:{s:s, s:{s:i}}}", "ID", FZS_C1, "Spec", "Name", "default",
				   "Orchestration", "TaskHistoryRetentionLimit", 5));
	static const char *const nodes[][2] = { { FZS_N1, "host1" }, { FZS_N2, "host2" } };
	for (size_t i = 0; rc == 0 && i < 2; i++)
		rc = fzs_add(txn, STORE_KIND_NODE,
			     json_pack("{s:s, s:{s:s, s:s}, s:{s:s}}", "ID", nodes[i][0], "Spec",
				       "Role", "manager", "Availability", "active", "Description",
				       "Hostname", nodes[i][1]));
	static const char *const services[][2] = { { FZS_S1, "web" }, { FZS_S2, "db" } };
	for (size_t i = 0; rc == 0 && i < 2; i++)
		rc = fzs_add(txn, STORE_KIND_SERVICE,
			     json_pack("{s:s, s:{s:s, s:{s:{s:i}}}}", "ID", services[i][0], "Spec",
				       "Name", services[i][1], "Mode", "Replicated", "Replicas", 2));
	static const char *const tasks[][3] = { { FZS_T1, FZS_S1, FZS_N1 },
						{ FZS_T2, FZS_S1, FZS_N2 },
						{ FZS_T3, FZS_S2, "" } };
	for (size_t i = 0; rc == 0 && i < 3; i++)
		rc = fzs_add(txn, STORE_KIND_TASK,
			     json_pack("{s:s, s:s, s:s, s:i, s:{s:s}, s:s}", "ID", tasks[i][0],
				       "ServiceID", tasks[i][1], "NodeID", tasks[i][2], "Slot",
				       (int)i + 1, "Status", "State", "running", "DesiredState",
				       "running"));
	if (rc == 0)
		rc = store_txn_encode(txn, out, len);
	store_txn_free(txn);
	return rc;
}

/* A store holding the preload at index 1, or NULL. The preload is encoded
 * once per process (and deliberately kept). */
static inline struct store *fzs_store(void)
{
	static uint8_t *buf;
	static size_t len;
	if (buf == NULL && fzs_preload_txn(&buf, &len) != 0)
		return NULL;
	struct store *s = store_new();
	if (s == NULL)
		return NULL;
	int rc = store_apply(s, 1, buf, len, NULL);
	if (rc != 0) {
		store_free(s);
		return NULL;
	}
	return s;
}

#endif
