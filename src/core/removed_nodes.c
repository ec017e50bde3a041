/* removed_nodes: the cluster object's list of removed nodes: its checked shape, lookups and additions (format in removed_nodes.h). */
#include "swarmnode/removed_nodes.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "swarmnode/ids.h"
#include "swarmnode/store.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* "where.RemovedNodes: reason" into err. */
static int list_error(char *err, size_t errlen, const char *where, const char *reason)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s." REMOVED_NODES_FIELD ": %s", where, reason);
	return -1;
}

/* "where.RemovedNodes[i].field: reason" into err. */
static int entry_error(char *err, size_t errlen, const char *where, size_t i, const char *field,
		       const char *reason)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s." REMOVED_NODES_FIELD "[%zu]%s%s: %s", where, i, field[0] ? "." : "", field,
			 reason);
	return -1;
}

static int check_entry(const json_t *e, const char *where, size_t i, char *err, size_t errlen)
{
	if (!json_is_object(e))
		return entry_error(err, errlen, where, i, "", "not an object");
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)e, key, v) {
		if (strcmp(key, "ID") != 0 && strcmp(key, "Expiry") != 0)
			return entry_error(err, errlen, where, i, key, "unknown field");
	}
	const json_t *id = json_object_get(e, "ID");
	if (id == NULL)
		return entry_error(err, errlen, where, i, "ID", "missing");
	if (!json_is_string(id) || !ids_valid(json_string_value(id)))
		return entry_error(err, errlen, where, i, "ID", "not a node id");
	const json_t *expiry = json_object_get(e, "Expiry");
	int64_t ns;
	if (expiry == NULL)
		return entry_error(err, errlen, where, i, "Expiry", "missing");
	if (!json_is_string(expiry) || store_time_parse(json_string_value(expiry), &ns) != 0)
		return entry_error(err, errlen, where, i, "Expiry", "not an RFC 3339 UTC time");
	return 0;
}

int removed_nodes_check(const json_t *cluster, const char *where, char *err, size_t errlen)
{
	const json_t *list = json_object_get(cluster, REMOVED_NODES_FIELD);
	if (list == NULL)
		return 0;
	if (!json_is_array(list))
		return list_error(err, errlen, where, "not an array");
	if (json_array_size(list) > REMOVED_NODES_MAX)
		return list_error(err, errlen, where, "more than " STR(REMOVED_NODES_MAX) " entries");
	for (size_t i = 0; i < json_array_size(list); i++)
		if (check_entry(json_array_get(list, i), where, i, err, errlen) != 0)
			return -1;
	return 0;
}

/* An entry's end; a checked entry always has one. */
static int64_t entry_expiry(const json_t *e)
{
	int64_t ns = 0;
	store_time_parse(json_string_value(json_object_get(e, "Expiry")), &ns);
	return ns;
}

bool removed_nodes_contains(const json_t *cluster, const char *node_id, int64_t now_ns)
{
	const json_t *list = json_object_get(cluster, REMOVED_NODES_FIELD);
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *e = json_array_get(list, i);
		const char *id = json_string_value(json_object_get(e, "ID"));
		if (id != NULL && strcmp(id, node_id) == 0 && entry_expiry(e) > now_ns)
			return true;
	}
	return false;
}

/* The live entries of list other than node_id's, shared with list. */
static json_t *live_entries(const json_t *list, const char *node_id, int64_t now_ns)
{
	json_t *kept = json_array();
	for (size_t i = 0; kept != NULL && i < json_array_size(list); i++) {
		json_t *e = json_array_get(list, i);
		const char *id = json_string_value(json_object_get(e, "ID"));
		if ((id != NULL && strcmp(id, node_id) == 0) || entry_expiry(e) <= now_ns)
			continue;
		if (json_array_append(kept, e) != 0) {
			json_decref(kept);
			kept = NULL;
		}
	}
	return kept;
}

int removed_nodes_add(const json_t *cluster, const char *cluster_id, const char *node_id, int64_t now_ns,
		      int64_t expiry_ns, json_t **out)
{
	char expiry[STORE_TIME_MAX];
	if (now_ns < 0 || store_time_format(expiry_ns, expiry) != 0)
		return -EINVAL;
	json_t *list = live_entries(json_object_get(cluster, REMOVED_NODES_FIELD), node_id, now_ns);
	if (list == NULL)
		return -ENOMEM;
	if (json_array_size(list) >= REMOVED_NODES_MAX) {
		json_decref(list);
		return -ENOSPC;
	}
	json_t *obj = cluster != NULL ? json_copy((json_t *)cluster)
				      : json_pack("{s:s, s:{s:s}}", "ID", cluster_id, "Spec", "Name", "default");
	if (obj == NULL || json_object_set_new(obj, REMOVED_NODES_FIELD, list) != 0 ||
	    json_array_append_new(list, json_pack("{s:s, s:s}", "ID", node_id, "Expiry", expiry)) != 0) {
		if (obj == NULL)
			json_decref(list);
		json_decref(obj);
		return -ENOMEM;
	}
	*out = obj;
	return 0;
}
