/* orchestrator_update: rolling updates and rollbacks (parallelism, delay, order, monitor, failure action) recorded in the service's UpdateStatus as Docker does. */
#include <stdio.h>
#include <string.h>

#include "orchestrator_internal.h"

/* Docker's default UpdateConfig.Monitor. */
#define DEFAULT_MONITOR (5 * NS_PER_SEC)

#define FAILED_TASK_TEXT "due to failure or early termination of task "

/* The update (or rollback) configuration, with Docker's defaults. */
static void update_config(const struct orch_service *svc, bool rollback, struct orch_update_config *c)
{
	const json_t *u = orch_jget(svc->obj, "Spec", rollback ? "RollbackConfig" : "UpdateConfig", NULL);
	const json_t *monitor = orch_jget(u, "Monitor", NULL), *ratio = orch_jget(u, "MaxFailureRatio", NULL);
	memset(c, 0, sizeof(*c));
	if (!json_is_object(u)) {
		c->parallelism = 1;
		c->monitor = DEFAULT_MONITOR;
		return;
	}
	int64_t par = orch_jint(u, "Parallelism", NULL);
	const char *action = orch_jstr(u, "FailureAction", NULL);
	c->parallelism = par > 0 ? (uint64_t)par : 0;
	c->delay = orch_jint(u, "Delay", NULL);
	c->monitor = json_is_integer(monitor) ? json_integer_value(monitor) : DEFAULT_MONITOR;
	c->max_failure_ratio = json_is_number(ratio) ? json_number_value(ratio) : 0;
	c->failure_action = strcmp(action, "continue") == 0   ? FAILURE_CONTINUE
			    : strcmp(action, "rollback") == 0 ? FAILURE_ROLLBACK
							      : FAILURE_PAUSE;
	c->start_first = strcmp(orch_jstr(u, "Order", NULL), "start-first") == 0;
}

/* A task created from the current template since the update started. */
static bool new_in_update(struct orch_pass *p, const struct orch_service *svc, const json_t *t, int64_t started)
{
	return !orch_task_outdated(p, svc, t) && orch_facts_of(p, t).created >= started;
}

/* Failed or rejected tasks of the update; *last is the latest one's id. */
static size_t count_failures(struct orch_pass *p, const struct orch_service *svc, const struct orch_slot *slots,
			     size_t n, int64_t started, const char **last)
{
	size_t failures = 0;
	int64_t last_at = -1;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < slots[i].n; j++) {
			const json_t *v = orch_view(p, slots[i].tasks[j]);
			enum orch_state st = orch_facts_of(p, v).state;
			if ((st != ORCH_STATE_FAILED && st != ORCH_STATE_REJECTED) || !new_in_update(p, svc, v, started))
				continue;
			failures++;
			int64_t at = orch_facts_of(p, v).status_at;
			if (at >= last_at) {
				last_at = at;
				*last = orch_jstr(v, "ID", NULL);
			}
		}
	return failures;
}

/* Whether a wanted slot is being replaced right now (new task not running
 * yet, or running for less than Delay, or waiting to be refilled). */
static bool slot_busy(struct orch_pass *p, const struct orch_service *svc, const struct orch_slot *slot,
		      int64_t started, const struct orch_update_config *c)
{
	const json_t *cur = orch_slot_current(p, svc, slot);
	if (cur == NULL)
		return true;
	const json_t *v = orch_view(p, cur);
	enum orch_state st = orch_facts_of(p, v).state;
	if (!new_in_update(p, svc, v, started) || orch_state_terminal(st))
		return false;
	if (st < ORCH_STATE_RUNNING)
		return true;
	int64_t ready_at = orch_facts_of(p, v).status_at + c->delay;
	orch_wake_at(p, ready_at);
	return p->now < ready_at;
}

/* Whether every task of the update has run for Monitor. */
static bool monitor_over(struct orch_pass *p, const struct orch_service *svc, const struct orch_slot *slots,
			 size_t n, int64_t started, int64_t monitor)
{
	bool over = true;
	for (size_t i = 0; i < n; i++) {
		if (!slots[i].wanted)
			continue;
		const json_t *cur = orch_slot_current(p, svc, &slots[i]);
		const json_t *v = cur ? orch_view(p, cur) : NULL;
		if (v == NULL || !new_in_update(p, svc, v, started) || orch_facts_of(p, v).state != ORCH_STATE_RUNNING)
			continue;
		int64_t until = orch_facts_of(p, v).status_at + monitor;
		if (p->now < until) {
			orch_wake_at(p, until);
			over = false;
		}
	}
	return over;
}

/* Writes UpdateStatus: State and Message; StartedAt now when starting, CompletedAt now when ending. */
static json_t *set_update_status(struct orch_pass *p, const struct orch_service *svc, const char *state,
				 const char *message, bool starting, bool ending)
{
	json_t *s = orch_edit(p, STORE_KIND_SERVICE, svc->obj);
	if (s == NULL)
		return NULL;
	json_t *us = json_object_get(s, "UpdateStatus");
	if (!json_is_object(us)) {
		us = json_object();
		orch_set(p, s, "UpdateStatus", us);
		if (us == NULL)
			return NULL;
	}
	orch_set(p, us, "State", json_string(state));
	orch_set(p, us, "Message", json_string(message));
	if (starting) {
		orch_set(p, us, "StartedAt", json_string(p->now_text));
		json_object_del(us, "CompletedAt");
	}
	if (ending)
		orch_set(p, us, "CompletedAt", json_string(p->now_text));
	return s;
}

/* FailureAction rollback: back to PreviousSpec, rolled out with RollbackConfig. */
static void start_rollback(struct orch_pass *p, const struct orch_service *svc, const char *task_id)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "update rolled back " FAILED_TASK_TEXT "%s", task_id);
	json_t *prev = json_deep_copy(orch_jget(svc->obj, "PreviousSpec", NULL));
	json_t *s = set_update_status(p, svc, "rollback_started", msg, true, false);
	if (s == NULL) {
		json_decref(prev);
		return;
	}
	orch_set(p, s, "Spec", prev);
	json_object_del(s, "PreviousSpec");
}

static void pause_update(struct orch_pass *p, const struct orch_service *svc, bool rollback, const char *task_id)
{
	char msg[160];
	snprintf(msg, sizeof(msg), "update paused " FAILED_TASK_TEXT "%s", task_id);
	set_update_status(p, svc, rollback ? "rollback_paused" : "paused", msg, false, false);
}

/* Replaces the outdated task of a slot. */
static void replace_slot(struct orch_pass *p, const struct orch_service *svc, const struct orch_slot *slot,
			 const struct orch_update_config *c)
{
	const json_t *cur = orch_slot_current(p, svc, slot);
	enum orch_state st = orch_task_state(orch_view(p, cur));
	bool stopped = orch_state_terminal(st) || st < ORCH_STATE_ASSIGNED;
	if (!(c->start_first && !stopped))
		orch_shutdown(p, cur);
	if ((c->start_first || stopped) && slot->may_create)
		orch_create_task(p, svc, slot);
}

/* Whether the failures so far call for FailureAction; acts on it if so. */
static bool failure_action(struct orch_pass *p, const struct orch_service *svc, const struct orch_slot *slots,
			   size_t n, int64_t started, bool rollback, const struct orch_update_config *c)
{
	const char *last = "";
	size_t wanted = 0;
	for (size_t i = 0; i < n; i++)
		wanted += slots[i].wanted;
	size_t failures = count_failures(p, svc, slots, n, started, &last);
	if (failures == 0 || c->failure_action == FAILURE_CONTINUE ||
	    (double)failures / (double)(wanted ? wanted : 1) <= c->max_failure_ratio)
		return false;
	if (c->failure_action == FAILURE_ROLLBACK && !rollback && json_is_object(orch_jget(svc->obj, "PreviousSpec", NULL)))
		start_rollback(p, svc, last);
	else
		pause_update(p, svc, rollback, last);
	return true;
}

void orch_update_step(struct orch_pass *p, const struct orch_service *svc, struct orch_slot *slots, size_t n)
{
	const char *state = svc->update_state;
	bool rollback = strcmp(state, "rollback_started") == 0;
	bool rolling = rollback || strcmp(state, "updating") == 0;
	size_t outdated = 0;
	for (size_t i = 0; i < n; i++)
		outdated += slots[i].wanted && slots[i].outdated;
	if (strcmp(state, "paused") == 0 || strcmp(state, "rollback_paused") == 0 || (!rolling && outdated == 0))
		return;
	struct orch_update_config c;
	update_config(svc, rollback, &c);
	int64_t started = rolling ? svc->update_started : p->now;
	if (rolling && failure_action(p, svc, slots, n, started, rollback, &c))
		return;
	size_t busy = 0;
	for (size_t i = 0; i < n; i++)
		busy += slots[i].wanted && slot_busy(p, svc, &slots[i], started, &c);
	if (outdated > 0) {
		if (!rolling && set_update_status(p, svc, "updating", "update in progress", true, false) == NULL)
			return;
		size_t room = c.parallelism == 0 ? n : (c.parallelism > busy ? c.parallelism - busy : 0);
		for (size_t i = 0; i < n && room > 0 && orch_room(p); i++)
			if (slots[i].wanted && slots[i].outdated) {
				replace_slot(p, svc, &slots[i], &c);
				room--;
			}
		return;
	}
	if (busy == 0 && monitor_over(p, svc, slots, n, started, c.monitor))
		set_update_status(p, svc, rollback ? "rollback_completed" : "completed",
				  rollback ? "rollback completed" : "update completed", false, true);
}
