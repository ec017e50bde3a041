/* orchestrator_slots: one slot of a service: lost and drained nodes, scaling, restarts, start-first hand-over, task history. */
#include <string.h>

#include "orchestrator_internal.h"

/* Docker's default RestartPolicy.Delay. */
#define DEFAULT_RESTART_DELAY (5 * NS_PER_SEC)

void orch_restart_policy(const json_t *task, struct orch_restart *out)
{
	const json_t *rp = orch_jget(task, "Spec", "RestartPolicy", NULL);
	const char *cond = orch_jstr(rp, "Condition", NULL);
	const json_t *delay = orch_jget(rp, "Delay", NULL);
	out->condition = strcmp(cond, "none") == 0 ? RESTART_NONE
			 : strcmp(cond, "on-failure") == 0 ? RESTART_ON_FAILURE
							   : RESTART_ANY;
	out->delay = json_is_integer(delay) ? json_integer_value(delay) : DEFAULT_RESTART_DELAY;
	out->window = orch_jint(rp, "Window", NULL);
	int64_t max = orch_jint(rp, "MaxAttempts", NULL);
	out->max_attempts = max > 0 ? (uint64_t)max : 0;
}

static const char *node_availability(struct orch_pass *p, const char *node_id)
{
	const json_t *node = store_get(p->s, STORE_KIND_NODE, node_id);
	return orch_jstr(node, "Spec", "Availability", NULL);
}

/* Nobody will ever report on a task of a lost node: it ends here. */
static void orphan(struct orch_pass *p, const json_t *task)
{
	json_t *t = orch_edit(p, STORE_KIND_TASK, task);
	if (t == NULL)
		return;
	orch_set(p, t, "DesiredState", json_string("shutdown"));
	orch_set_status(p, t, ORCH_STATE_ORPHANED, "task orphaned: its node is down");
}

/* Lost nodes, drained nodes, and slots no longer wanted. */
static void handle_nodes(struct orch_pass *p, const struct orch_slot *slot)
{
	for (size_t i = 0; i < slot->n; i++) {
		const json_t *t = slot->tasks[i];
		struct orch_facts f = orch_facts_of(p, t);
		const struct orch_node *node = f.node[0] ? orch_node_find(p, f.node) : NULL;
		if (orch_state_terminal(f.state)) {
			/* It ended on its own and may still be its slot's last word
			 * (a restart not allowed), but nothing is meant to run on a
			 * node that is lost or drained. */
			if (f.wants_running && f.node[0] && (node == NULL || node->down || node->drained))
				orch_shutdown(p, t);
			continue;
		}
		bool placed = f.state >= ORCH_STATE_ASSIGNED;
		if (placed && (node == NULL || node->down))
			orphan(p, t);
		else if (!slot->wanted || !f.wants_running || (placed && node->drained))
			orch_shutdown(p, t);
	}
}

/* A slot may get a new task once its other tasks stopped, or sit on drained nodes. */
static bool fillable(struct orch_pass *p, const struct orch_slot *slot)
{
	for (size_t i = 0; i < slot->n; i++) {
		struct orch_facts f = orch_facts_of(p, slot->tasks[i]);
		if (!orch_state_terminal(f.state) && strcmp(node_availability(p, f.node), "drain") != 0)
			return false;
	}
	return true;
}

static int64_t ended_at(struct orch_pass *p, const json_t *t)
{
	int64_t ts = orch_facts_of(p, t).status_at;
	return ts ? ts : orch_jtime(t, "UpdatedAt", NULL);
}

static bool counts_as_failure(enum orch_state st)
{
	return st == ORCH_STATE_COMPLETE || st == ORCH_STATE_FAILED || st == ORCH_STATE_REJECTED;
}

/* Failures of cur's spec in the slot within Window before cur ended (cur included). */
static uint64_t failures_in_window(struct orch_pass *p, const struct orch_slot *slot, const json_t *cur,
				   const struct orch_restart *rp)
{
	int64_t end = ended_at(p, cur);
	uint64_t n = 0;
	for (size_t i = 0; i < slot->n; i++) {
		const json_t *v = orch_view(p, slot->tasks[i]);
		int64_t at = ended_at(p, v);
		if (!counts_as_failure(orch_task_state(v)) || at > end || (rp->window > 0 && at < end - rp->window))
			continue;
		if (json_equal(json_object_get(v, "Spec"), json_object_get(cur, "Spec")))
			n++;
	}
	return n;
}

/* Whether the ended task cur is to be replaced, and from when. */
static bool restart_allowed(struct orch_pass *p, const struct orch_slot *slot, const json_t *cur, int64_t *due)
{
	struct orch_restart rp;
	orch_restart_policy(cur, &rp);
	enum orch_state st = orch_task_state(cur);
	if (rp.condition == RESTART_NONE || (rp.condition == RESTART_ON_FAILURE && st == ORCH_STATE_COMPLETE))
		return false;
	if (rp.max_attempts > 0 && failures_in_window(p, slot, cur, &rp) > rp.max_attempts)
		return false;
	*due = ended_at(p, cur) + rp.delay;
	return true;
}

/* The slot's newest task when it ended on its own, is no longer meant to run
 * (its node was lost or drained) and may not restart: it still speaks for the
 * slot, as a task of the same end still meant to run would (swarmkit's
 * UpdatableTasksInSlot), so the slot is not refilled. NULL otherwise. */
static const json_t *ended_for_good(struct orch_pass *p, const struct orch_slot *slot)
{
	const json_t *newest = NULL;
	int64_t newest_at = 0, due;
	for (size_t i = 0; i < slot->n; i++) {
		int64_t at = orch_facts_of(p, slot->tasks[i]).created;
		if (newest == NULL || at >= newest_at) {
			newest = slot->tasks[i];
			newest_at = at;
		}
	}
	if (newest == NULL)
		return NULL;
	struct orch_facts f = orch_facts_of(p, newest);
	if (f.wants_running || !counts_as_failure(f.state) || restart_allowed(p, slot, orch_view(p, newest), &due))
		return NULL;
	return newest;
}

const json_t *orch_slot_current(struct orch_pass *p, const struct orch_service *svc, const struct orch_slot *slot)
{
	const json_t *best = NULL;
	bool best_fresh = false;
	for (size_t i = 0; i < slot->n; i++) { /* oldest first: a later one of equal rank wins */
		if (!orch_facts_of(p, slot->tasks[i]).wants_running)
			continue;
		bool fresh = !orch_task_outdated(p, svc, slot->tasks[i]);
		if (best == NULL || fresh || !best_fresh) {
			best = slot->tasks[i];
			best_fresh = fresh;
		}
	}
	return best ? best : ended_for_good(p, slot);
}

/* Other tasks meant to run: ended ones stop being meant to, and running
 * ones give way once the current one runs (start-first hand-over). Returns
 * whether one of them still runs or is starting. */
static bool settle_extras(struct orch_pass *p, const struct orch_slot *slot, const json_t *cur)
{
	bool cur_runs = orch_facts_of(p, cur).state == ORCH_STATE_RUNNING, live = false;
	for (size_t i = 0; i < slot->n; i++) {
		const json_t *t = slot->tasks[i];
		struct orch_facts f = orch_facts_of(p, t);
		if (t == cur || !f.wants_running)
			continue;
		if (orch_state_terminal(f.state) || cur_runs)
			orch_shutdown(p, t);
		else
			live = true;
	}
	return live;
}

/* Deletes the oldest ended tasks beyond the history limit. A replicated
 * slot a scale-down removed keeps none: Docker's task reaper deletes those
 * tasks once they stopped, and keeping them would grow the store with every
 * scale-down. (A global service's slot on a drained node keeps its history,
 * as in Docker.) */
static void retain_history(struct orch_pass *p, const struct orch_slot *slot)
{
	size_t limit = slot->wanted || slot->node != NULL ? ORCHESTRATOR_HISTORY_LIMIT : 0, old = 0;
	for (size_t i = 0; i < slot->n; i++) {
		struct orch_facts f = orch_facts_of(p, slot->tasks[i]);
		old += !f.wants_running && orch_state_terminal(f.state);
	}
	for (size_t i = 0; i < slot->n && old > limit; i++) {
		const json_t *t = slot->tasks[i];
		struct orch_facts f = orch_facts_of(p, t);
		if (orch_edit_copy(p, t) != NULL || f.wants_running || !orch_state_terminal(f.state))
			continue;
		orch_delete(p, t);
		old--;
	}
}

static void reconcile_ended(struct orch_pass *p, const struct orch_service *svc, struct orch_slot *slot,
			    const json_t *cur, bool live_extra)
{
	int64_t due;
	if (restart_allowed(p, slot, orch_view(p, cur), &due)) {
		if (p->now < due) {
			orch_wake_at(p, due);
			return;
		}
		orch_shutdown(p, cur);
		if (!live_extra && slot->may_create)
			orch_create_task(p, svc, slot);
	} else if (!live_extra && orch_task_outdated(p, svc, cur)) {
		slot->outdated = true; /* ended for good, but an update replaces it */
	}
}

void orch_slot_reconcile(struct orch_pass *p, const struct orch_service *svc, struct orch_slot *slot)
{
	handle_nodes(p, slot);
	const json_t *cur = slot->wanted ? orch_slot_current(p, svc, slot) : NULL;
	if (slot->wanted && cur == NULL && slot->may_create && fillable(p, slot))
		orch_create_task(p, svc, slot);
	if (cur != NULL) {
		bool live_extra = settle_extras(p, slot, cur);
		if (orch_state_terminal(orch_facts_of(p, cur).state))
			reconcile_ended(p, svc, slot, cur, live_extra);
		else if (!live_extra && orch_task_outdated(p, svc, cur))
			slot->outdated = true;
	}
	retain_history(p, slot);
}
