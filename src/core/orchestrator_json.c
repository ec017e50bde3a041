/* orchestrator_json: shared reads of service, task and node documents. */
#include "orchestrator_json.h"

#include <stdarg.h>
#include <string.h>

#include "swarmnode/store.h"

static const char *const state_names[ORCH_STATE_COUNT] = {
	"new", "pending", "assigned", "accepted", "preparing", "starting",
	"running", "complete", "shutdown", "failed", "rejected", "orphaned",
};

static json_t *walk(const json_t *obj, va_list ap)
{
	const json_t *cur = obj;
	const char *key;
	while ((key = va_arg(ap, const char *)) != NULL) {
		if (!json_is_object(cur))
			return NULL;
		cur = json_object_get(cur, key);
	}
	return (json_t *)cur;
}

json_t *orch_jget(const json_t *obj, ...)
{
	va_list ap;
	va_start(ap, obj);
	json_t *v = walk(obj, ap);
	va_end(ap);
	return v;
}

const char *orch_jstr(const json_t *obj, ...)
{
	va_list ap;
	va_start(ap, obj);
	json_t *v = walk(obj, ap);
	va_end(ap);
	return json_is_string(v) ? json_string_value(v) : "";
}

int64_t orch_jint(const json_t *obj, ...)
{
	va_list ap;
	va_start(ap, obj);
	json_t *v = walk(obj, ap);
	va_end(ap);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

int64_t orch_jtime(const json_t *obj, ...)
{
	va_list ap;
	va_start(ap, obj);
	json_t *v = walk(obj, ap);
	va_end(ap);
	int64_t ns = 0;
	if (!json_is_string(v) || store_time_parse(json_string_value(v), &ns) != 0)
		return 0;
	return ns;
}

const char *orch_state_name(enum orch_state s)
{
	return (unsigned)s < ORCH_STATE_COUNT ? state_names[s] : "new";
}

enum orch_state orch_task_state(const json_t *task)
{
	const char *name = orch_jstr(task, "Status", "State", NULL);
	for (int i = 0; i < ORCH_STATE_COUNT; i++)
		if (strcmp(name, state_names[i]) == 0)
			return (enum orch_state)i;
	return ORCH_STATE_NEW;
}

bool orch_state_terminal(enum orch_state s)
{
	return s >= ORCH_STATE_COMPLETE;
}

bool orch_task_wants_running(const json_t *task)
{
	const char *d = orch_jstr(task, "DesiredState", NULL);
	return d[0] == '\0' || strcmp(d, "running") == 0;
}

uint64_t orch_version(const json_t *obj)
{
	int64_t v = orch_jint(obj, "Version", "Index", NULL);
	return v > 0 ? (uint64_t)v : 0;
}
