/* Unit tests for stack: compose files -> ServiceSpec JSON, interpolation, merging, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "swarmnode/stack.h"

/* In-memory files get a path in a folder that does not exist, so no .env is read. */
#define MEM "/no-such-dir/stack.yml"

static const char *const no_env[] = {NULL};

static int load_files(const struct stack_source *files, size_t n, const char *const *env, const char *name,
		      struct stack **out, struct stack_diag *diag)
{
	int rc = stack_load(files, n, env, name, out, diag);
	if (rc != 0)
		assert_null(*out);
	else
		assert_int_equal(diag->count, 0);
	return rc;
}

static struct stack *load_ok_env(const char *yaml, const char *const *env)
{
	struct stack_source src = {.path = MEM, .data = yaml, .len = strlen(yaml)};
	struct stack *s;
	struct stack_diag diag;
	if (load_files(&src, 1, env, "app", &s, &diag) != 0) {
		print_error("unexpected errors:\n%s", diag.messages);
		stack_diag_free(&diag);
		fail();
	}
	return s;
}

static struct stack *load_ok(const char *yaml)
{
	return load_ok_env(yaml, no_env);
}

/* The messages of a load that must fail; the caller frees them. */
static char *load_err_env(const char *yaml, const char *const *env)
{
	struct stack_source src = {.path = MEM, .data = yaml, .len = strlen(yaml)};
	struct stack *s;
	struct stack_diag diag;
	assert_int_equal(load_files(&src, 1, env, "app", &s, &diag), -EINVAL);
	assert_true(diag.count >= 1);
	assert_non_null(diag.messages);
	return diag.messages;
}

static char *load_err(const char *yaml)
{
	return load_err_env(yaml, no_env);
}

/* The first line of a failing load. */
static void assert_first_error(const char *yaml, const char *expected)
{
	char *m = load_err(yaml);
	char *nl = strchr(m, '\n');
	if (nl)
		*nl = '\0';
	assert_string_equal(m, expected);
	free(m);
}

/* Value at a path like "TaskTemplate.ContainerSpec.Env[1]". */
static json_t *jat(json_t *v, const char *path)
{
	char key[128];
	while (*path && v) {
		if (*path == '.')
			path++;
		if (*path == '[') {
			char *end;
			size_t i = strtoul(path + 1, &end, 10);
			v = json_array_get(v, i);
			path = end + 1;
			continue;
		}
		size_t n = strcspn(path, ".[");
		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		v = json_object_get(v, key);
		path += n;
	}
	return v;
}

/* Compact JSON of v (members in their order) equals expected. */
static void assert_json(json_t *v, const char *expected)
{
	char *text = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : strdup("(absent)");
	assert_string_equal(text, expected);
	free(text);
}

static json_t *service(struct stack *s, size_t i)
{
	return json_array_get(stack_services(s), i);
}

/* ---- every key of a full file ---- */

static struct stack *load_fixture(const char *name, const char *const *env, const char *stack)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", STACK_FILES_DIR, name);
	struct stack_source src = {.path = path};
	struct stack *s;
	struct stack_diag diag;
	if (load_files(&src, 1, env, stack, &s, &diag) != 0) {
		print_error("unexpected errors:\n%s", diag.messages);
		stack_diag_free(&diag);
		fail();
	}
	return s;
}

static void full_file_converts_every_key(void **state)
{
	(void)state;
	static const char *const env[] = {"FROM_HOST=host value", NULL};
	struct stack *s = load_fixture("full.yml", env, "prod");
	assert_string_equal(stack_name(s), "prod");
	assert_int_equal(json_array_size(stack_services(s)), 2);
	json_t *db = service(s, 0), *web = service(s, 1);
	assert_json(db, "{\"Name\":\"prod_db\",\"Labels\":{\"com.docker.stack.namespace\":\"prod\"},"
			"\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"postgres\",\"Labels\":{\"com.docker.stack.namespace\":\"prod\"}},"
			"\"Resources\":{},\"Placement\":{},\"Networks\":[{\"Target\":\"prod_back\",\"Aliases\":[\"db\"]}],"
			"\"ForceUpdate\":0},\"Mode\":{\"Global\":{}},\"EndpointSpec\":{}}");
	assert_json(jat(web, "Name"), "\"prod_web\"");
	assert_json(jat(web, "Labels"), "{\"com.example.owner\":\"ops\",\"com.docker.stack.namespace\":\"prod\"}");
	json_t *cs = jat(web, "TaskTemplate.ContainerSpec");
	assert_json(cs, "{\"Image\":\"nginx:1.25\","
			"\"Labels\":{\"com.example.tier\":\"frontend\",\"com.docker.stack.namespace\":\"prod\"},"
			"\"Command\":[\"/docker-entrypoint.sh\"],\"Args\":[\"nginx\",\"-g\",\"daemon off;\"],"
			"\"Hostname\":\"web-host\","
			"\"Env\":[\"EMPTY=\",\"FROM_FILE=file value\",\"FROM_HOST=host value\",\"MODE=prod\",\"SPACED=x\"],"
			"\"Dir\":\"/srv\",\"User\":\"1000:1000\",\"StopGracePeriod\":90000000000,"
			"\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"curl -f http://localhost/\"],\"Interval\":30000000000,"
			"\"Timeout\":10000000000,\"StartPeriod\":60000000000,\"Retries\":3}}");
	assert_json(jat(web, "TaskTemplate.Resources"),
		    "{\"Limits\":{\"NanoCPUs\":500000000,\"MemoryBytes\":536870912},"
		    "\"Reservations\":{\"NanoCPUs\":250000000,\"MemoryBytes\":1073741824}}");
	assert_json(jat(web, "TaskTemplate.RestartPolicy"),
		    "{\"Condition\":\"on-failure\",\"Delay\":5000000000,\"MaxAttempts\":3,\"Window\":120000000000}");
	assert_json(jat(web, "TaskTemplate.Placement"),
		    "{\"Constraints\":[\"node.role == worker\",\"node.labels.zone != b\"]}");
	assert_json(jat(web, "TaskTemplate.Networks"),
		    "[{\"Target\":\"prod_back\",\"Aliases\":[\"web\"]},{\"Target\":\"prod_front\",\"Aliases\":[\"www\",\"web\"]}]");
	assert_json(jat(web, "Mode"), "{\"Replicated\":{\"Replicas\":3}}");
	assert_json(jat(web, "UpdateConfig"), "{\"Parallelism\":2,\"Delay\":10000000000,\"FailureAction\":\"rollback\","
					      "\"Monitor\":90000000000,\"MaxFailureRatio\":0.25,\"Order\":\"start-first\"}");
	assert_json(jat(web, "RollbackConfig"), "{\"Parallelism\":0,\"MaxFailureRatio\":0,\"Order\":\"stop-first\"}");
	assert_json(jat(web, "EndpointSpec"),
		    "{\"Mode\":\"vip\",\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":8080,\"PublishMode\":\"ingress\"},"
		    "{\"Protocol\":\"tcp\",\"TargetPort\":443,\"PublishedPort\":8443,\"PublishMode\":\"host\"}]}");
	/* Only the networks services use are created; "outside" is external and unused. */
	assert_json(stack_networks(s),
		    "[{\"Name\":\"prod_back\",\"Driver\":\"overlay\",\"Internal\":true,\"Attachable\":false,"
		    "\"Labels\":{\"com.docker.stack.namespace\":\"prod\"}},"
		    "{\"Name\":\"prod_front\",\"Driver\":\"overlay\",\"Internal\":false,\"Attachable\":true,"
		    "\"Options\":{\"encrypted\":\"\"},\"Labels\":{\"tier\":\"front\",\"com.docker.stack.namespace\":\"prod\"}}]");
	assert_json(stack_external_networks(s), "[]");
	assert_json(stack_warnings(s), "[]");
	stack_free(s);
}

static void defaults_are_docker_defaults(void **state)
{
	(void)state;
	struct stack *s = load_ok("services:\n  web:\n    image: busybox\n    deploy:\n      update_config: {}\n");
	assert_json(service(s, 0),
		    "{\"Name\":\"app_web\",\"Labels\":{\"com.docker.stack.namespace\":\"app\"},"
		    "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\",\"Labels\":{\"com.docker.stack.namespace\":\"app\"}},"
		    "\"Resources\":{},\"Placement\":{},\"Networks\":[{\"Target\":\"app_default\",\"Aliases\":[\"web\"]}],\"ForceUpdate\":0},"
		    "\"Mode\":{\"Replicated\":{}},"
		    "\"UpdateConfig\":{\"Parallelism\":1,\"MaxFailureRatio\":0,\"Order\":\"\"},\"EndpointSpec\":{}}");
	assert_json(stack_networks(s), "[{\"Name\":\"app_default\",\"Driver\":\"overlay\",\"Internal\":false,"
					"\"Attachable\":false,\"Labels\":{\"com.docker.stack.namespace\":\"app\"}}]");
	stack_free(s);
}

static void ports_short_and_long_sorted_by_published(void **state)
{
	(void)state;
	struct stack *s = load_ok("services:\n  web:\n    image: x\n    ports:\n"
				  "      - 9000-9001:90-91/udp\n      - 80\n      - \"8080:80\"\n"
				  "      - {target: 53, published: \"5353\", protocol: udp}\n"
				  "      - target: 22\n        mode: host\n");
	assert_json(jat(service(s, 0), "EndpointSpec.Ports"),
		    "[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishMode\":\"ingress\"},"
		    "{\"TargetPort\":22,\"PublishMode\":\"host\"},"
		    "{\"Protocol\":\"udp\",\"TargetPort\":53,\"PublishedPort\":5353},"
		    "{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":8080,\"PublishMode\":\"ingress\"},"
		    "{\"Protocol\":\"udp\",\"TargetPort\":90,\"PublishedPort\":9000,\"PublishMode\":\"ingress\"},"
		    "{\"Protocol\":\"udp\",\"TargetPort\":91,\"PublishedPort\":9001,\"PublishMode\":\"ingress\"}]");
	stack_free(s);
	s = load_ok("services:\n  web:\n    image: x\n    ports: [\"127.0.0.1:8080:80\"]\n");
	assert_json(stack_warnings(s), "[\"ignoring IP-address (127.0.0.1:8080:80/tcp) service will listen on '0.0.0.0'\"]");
	stack_free(s);
}

static void environment_list_and_map(void **state)
{
	(void)state;
	static const char *const env[] = {"PASS=through", "EMPTY_TOO=filled", NULL};
	struct stack *s = load_ok_env("services:\n"
				      "  a:\n    image: x\n    environment: [\"Z=1\", \"A=x=y\", PASS, \"EMPTY_TOO=\", MISSING]\n"
				      "  b:\n    image: x\n    environment:\n      NUM: 5\n      NUL:\n      PASS:\n      Q: \"\"\n",
				      env);
	assert_json(jat(service(s, 0), "TaskTemplate.ContainerSpec.Env"),
		    "[\"A=x=y\",\"EMPTY_TOO=filled\",\"MISSING\",\"PASS=through\",\"Z=1\"]");
	assert_json(jat(service(s, 1), "TaskTemplate.ContainerSpec.Env"), "[\"NUL\",\"NUM=5\",\"PASS=through\",\"Q=\"]");
	stack_free(s);
}

static void command_entrypoint_and_healthcheck_forms(void **state)
{
	(void)state;
	struct stack *s = load_ok("services:\n"
				  "  a:\n    image: x\n    command: [\"-c\", \"echo 'hi'\"]\n    entrypoint: [/bin/sh]\n"
				  "    healthcheck:\n      test: [\"CMD\", \"true\"]\n      retries: 0\n"
				  "  b:\n    image: x\n    command: echo \"a b\" c\n"
				  "    healthcheck:\n      disable: true\n");
	json_t *a = jat(service(s, 0), "TaskTemplate.ContainerSpec"), *b = jat(service(s, 1), "TaskTemplate.ContainerSpec");
	assert_json(jat(a, "Args"), "[\"-c\",\"echo 'hi'\"]");
	assert_json(jat(a, "Command"), "[\"/bin/sh\"]");
	assert_json(jat(a, "Healthcheck"), "{\"Test\":[\"CMD\",\"true\"]}");
	assert_json(jat(b, "Args"), "[\"echo\",\"a b\",\"c\"]");
	assert_json(jat(b, "Healthcheck"), "{\"Test\":[\"NONE\"]}");
	stack_free(s);
}

static void restart_key_is_docker_fallback(void **state)
{
	(void)state;
	struct stack *s = load_ok("services:\n  a:\n    image: x\n    restart: always\n"
				  "  b:\n    image: x\n    restart: on-failure:4\n"
				  "  c:\n    image: x\n    restart: \"no\"\n"
				  "  d:\n    image: x\n    restart: always\n    deploy:\n      restart_policy: {condition: none}\n");
	assert_json(jat(service(s, 0), "TaskTemplate.RestartPolicy"), "{\"Condition\":\"any\"}");
	assert_json(jat(service(s, 1), "TaskTemplate.RestartPolicy"), "{\"Condition\":\"on-failure\",\"MaxAttempts\":4}");
	assert_json(jat(service(s, 2), "TaskTemplate.RestartPolicy"), "(absent)");
	assert_json(jat(service(s, 3), "TaskTemplate.RestartPolicy"), "{\"Condition\":\"none\"}");
	assert_json(stack_ignored_options(s), "[\"restart\"]");
	stack_free(s);
	assert_first_error("services:\n  a:\n    image: x\n    restart: sometimes\n",
			   MEM ":4:14: services.a.restart: unknown restart policy \"sometimes\"");
}

static void networks_external_named_and_aliases(void **state)
{
	(void)state;
	struct stack *s = load_ok("services:\n  a:\n    image: x\n    networks:\n      shared:\n      hostnet:\n"
				  "      own: {aliases: [alpha]}\n"
				  "networks:\n  shared:\n    external: true\n  hostnet:\n    external:\n      name: host\n"
				  "  own:\n    name: custom-name\n    driver: bridge\n");
	assert_json(jat(service(s, 0), "TaskTemplate.Networks"),
		    "[{\"Target\":\"custom-name\",\"Aliases\":[\"alpha\",\"a\"]},{\"Target\":\"host\"},"
		    "{\"Target\":\"shared\",\"Aliases\":[\"a\"]}]");
	assert_json(stack_external_networks(s), "[\"host\",\"shared\"]");
	assert_json(stack_networks(s), "[{\"Name\":\"custom-name\",\"Driver\":\"bridge\",\"Internal\":false,"
				       "\"Attachable\":false,\"Labels\":{\"com.docker.stack.namespace\":\"app\"}}]");
	stack_free(s);
	assert_first_error("services:\n  a:\n    image: x\n    networks: [front, nope]\n",
			   MEM ":4:16: services.a.networks.front: service \"a\" references network \"front\", which is not declared");
}

/* ---- interpolation ---- */

static void interpolation_forms(void **state)
{
	(void)state;
	static const char *const env[] = {"SET=value", "EMPTY=", "TAG=1.2", NULL};
	struct stack *s = load_ok_env(
		"services:\n  a:\n    image: \"img:${TAG}\"\n    environment:\n"
		"      - P1=$SET/${SET}\n"
		"      - P2=${EMPTY:-dflt} ${EMPTY-dflt} ${UNSET-dflt} ${UNSET:-dflt}\n"
		"      - P3=$$SET $$$$ $ ${UNSET:-${SET}x}\n"
		"      - P4=${SET?need it} ${SET:?need it} ${EMPTY?only unset counts}\n"
		"      - P5=$UNSET.${UNSET}!\n"
		"    deploy:\n      replicas: ${REPLICAS:-2}\n"
		"    x-ignored: ${not interpolated\n",
		env);
	json_t *a = service(s, 0);
	assert_json(jat(a, "TaskTemplate.ContainerSpec.Image"), "\"img:1.2\"");
	assert_json(jat(a, "TaskTemplate.ContainerSpec.Env"),
		    "[\"P1=value/value\",\"P2=dflt  dflt dflt\",\"P3=$SET $$ $ valuex\",\"P4=value value \",\"P5=.!\"]");
	assert_json(jat(a, "Mode"), "{\"Replicated\":{\"Replicas\":2}}");
	assert_json(stack_warnings(s), "[\"The \\\"UNSET\\\" variable is not set. Defaulting to a blank string.\"]");
	stack_free(s);
}

static void interpolation_errors(void **state)
{
	(void)state;
	static const char *const env[] = {"EMPTY=", NULL};
	char *m = load_err_env("services:\n  a:\n    image: \"${TAG?set TAG to the release}\"\n", env);
	assert_string_equal(m, MEM ":3:12: services.a.image: required variable TAG is missing a value: set TAG to the release\n");
	free(m);
	m = load_err_env("services:\n  a:\n    image: x\n    hostname: ${EMPTY:?must not be empty}\n", env);
	assert_string_equal(m, MEM ":4:15: services.a.hostname: required variable EMPTY is missing a value: must not be empty\n");
	free(m);
	m = load_err_env("services:\n  a:\n    image: x\n    user: ${NOPE?}\n", env);
	assert_string_equal(m, MEM ":4:11: services.a.user: required variable NOPE is missing a value\n");
	free(m);
	assert_first_error("services:\n  a:\n    image: \"${\"\n",
			   MEM ":3:12: services.a.image: invalid interpolation format \"${\": you may need to escape any $ with another $");
	assert_first_error("services:\n  a:\n    image: \"${A B}\"\n",
			   MEM ":3:12: services.a.image: invalid interpolation format \"${A B}\": you may need to escape any $ with another $");
	assert_first_error("services:\n  a:\n    image: \"${1A}\"\n",
			   MEM ":3:12: services.a.image: invalid interpolation format \"${1A}\": you may need to escape any $ with another $");
}

static void dotenv_beside_the_file(void **state)
{
	(void)state;
	static const char *const env[] = {"TAG=from-environment", NULL};
	struct stack *s = load_fixture("withenv/stack.yml", env, NULL);
	assert_string_equal(stack_name(s), "withenv");
	json_t *cs = jat(service(s, 0), "TaskTemplate.ContainerSpec");
	/* The environment wins over .env; .env's quotes are stripped. */
	assert_json(jat(cs, "Image"), "\"busybox:from-environment\"");
	assert_json(jat(cs, "Args"), "[\"echo\",\"hello world\",\"$HOME\"]");
	stack_free(s);
}

/* ---- extensions, anchors, ignored keys ---- */

static void extensions_and_merge_keys(void **state)
{
	(void)state;
	struct stack *s = load_ok("x-common: &common\n  image: base\n  environment: {A: \"1\"}\n"
				  "x-deploy: &deploy {replicas: 5, x-note: n}\n"
				  "services:\n  a:\n    <<: *common\n    image: own\n    deploy: *deploy\n    x-mine: 1\n"
				  "  b:\n    <<: [*common]\n  x-not-a-service: {}\n"
				  "networks:\n  x-nope: {}\n");
	assert_int_equal(json_array_size(stack_services(s)), 2);
	assert_json(jat(service(s, 0), "TaskTemplate.ContainerSpec.Image"), "\"own\"");
	assert_json(jat(service(s, 0), "TaskTemplate.ContainerSpec.Env"), "[\"A=1\"]");
	assert_json(jat(service(s, 0), "Mode"), "{\"Replicated\":{\"Replicas\":5}}");
	assert_json(jat(service(s, 1), "TaskTemplate.ContainerSpec.Image"), "\"base\"");
	stack_free(s);
}

static void unsupported_options_reported_as_docker(void **state)
{
	(void)state;
	struct stack *s = load_ok("services:\n  a:\n    image: x\n    restart: always\n    build: .\n    depends_on: [b]\n"
				  "    container_name: fixed\n    links: [b]\n  b:\n    image: x\n    expose: [\"80\"]\n");
	assert_json(stack_ignored_options(s), "[\"build\",\"links\",\"restart\"]");
	assert_json(stack_warnings(s),
		    "[\"Ignoring unsupported options: build, links, restart\","
		    "\"Ignoring deprecated options:\\n\\ncontainer_name: Setting the container name is not supported."
		    "\\n\\nexpose: Exposing ports is unnecessary - services on the same network can access each other's containers on any port.\"]");
	stack_free(s);
	assert_first_error("services:\n  a:\n    image: x\n    mem_limit: 1g\n",
			   MEM ":4:5: services.a: unsupported option \"mem_limit\": Set resource limits using deploy.resources");
	assert_first_error("services:\n  a:\n    image: x\n    volumes: [\"/data:/data\"]\n",
			   MEM ":4:5: services.a: \"volumes\" is not supported by swarmnode");
	assert_first_error("volumes:\n  data: {}\nservices:\n  a:\n    image: x\n",
			   MEM ":2:3: volumes: top-level volumes are not supported by swarmnode");
}

/* ---- several files ---- */

static void later_files_override_earlier(void **state)
{
	(void)state;
	char base[1024], over[1024];
	snprintf(base, sizeof(base), "%s/base.yml", STACK_FILES_DIR);
	snprintf(over, sizeof(over), "%s/override.yml", STACK_FILES_DIR);
	struct stack_source files[] = {{.path = base}, {.path = over}};
	struct stack *s;
	struct stack_diag diag;
	assert_int_equal(load_files(files, 2, no_env, "m", &s, &diag), 0);
	assert_int_equal(json_array_size(stack_services(s)), 2);
	assert_json(jat(service(s, 0), "Name"), "\"m_extra\"");
	json_t *web = service(s, 1);
	assert_json(jat(web, "TaskTemplate.ContainerSpec"),
		    "{\"Image\":\"web:2\",\"Labels\":{\"tier\":\"front\",\"owner\":\"ops\",\"com.docker.stack.namespace\":\"m\"},"
		    "\"Args\":[\"serve\",\"--port\",\"81\"],\"Env\":[\"A=1\",\"B=20\",\"C=3\"]}");
	assert_json(jat(web, "TaskTemplate.Resources"), "{\"Limits\":{\"NanoCPUs\":1000000000,\"MemoryBytes\":134217728}}");
	assert_json(jat(web, "TaskTemplate.Placement"), "{\"Constraints\":[\"node.role == worker\",\"node.labels.ssd == true\"]}");
	assert_json(jat(web, "TaskTemplate.Networks"), "[{\"Target\":\"m_front\",\"Aliases\":[\"api\",\"web\"]}]");
	assert_json(jat(web, "Mode"), "{\"Replicated\":{\"Replicas\":4}}");
	assert_json(jat(web, "EndpointSpec.Ports[0].PublishedPort"), "7070");
	assert_json(jat(web, "EndpointSpec.Ports[1].PublishedPort"), "8080");
	assert_json(jat(web, "EndpointSpec.Ports[2].PublishedPort"), "9090");
	assert_int_equal(json_array_size(jat(web, "EndpointSpec.Ports")), 3);
	assert_json(jat(stack_networks(s), "[0].Name"), "\"m_default\"");
	assert_json(jat(stack_networks(s), "[1].Attachable"), "true");
	stack_free(s);
}

static void an_error_in_any_file_loads_nothing(void **state)
{
	(void)state;
	const char *good = "services:\n  a:\n    image: x\n";
	const char *bad = "services:\n  a:\n    deploy:\n      replicas: three\n";
	struct stack_source files[] = {{.path = "/nope/a.yml", .data = good, .len = strlen(good)},
				       {.path = "/nope/b.yml", .data = bad, .len = strlen(bad)}};
	struct stack *s;
	struct stack_diag diag;
	assert_int_equal(load_files(files, 2, no_env, "m", &s, &diag), -EINVAL);
	assert_string_equal(diag.messages, "/nope/b.yml:4:17: services.a.deploy.replicas: expected an integer, got \"three\"\n");
	stack_diag_free(&diag);
}

/* ---- errors: each kind at its line and column ---- */

static void yaml_syntax_error_has_position(void **state)
{
	(void)state;
	char path[1024];
	snprintf(path, sizeof(path), "%s/syntax.yml", STACK_FILES_DIR);
	struct stack_source src = {.path = path};
	struct stack *s;
	struct stack_diag diag;
	assert_int_equal(load_files(&src, 1, no_env, "x", &s, &diag), -EINVAL);
	char expected[1200];
	snprintf(expected, sizeof(expected),
		 "%s:5:3: did not find expected ',' or ']' (while parsing a flow sequence at line 4, column 12)\n", path);
	assert_string_equal(diag.messages, expected);
	stack_diag_free(&diag);
	assert_first_error("services:\n  a: [\n", MEM ":3:1: did not find expected node content (while parsing a flow node at line 3, column 1)");
	assert_first_error("services:\n\tweb: {}\n", MEM ":2:1: found character that cannot start any token (while scanning for the next token at line 2, column 1)");
}

static void schema_errors_have_positions(void **state)
{
	(void)state;
	static const struct {
		const char *yaml, *error;
	} cases[] = {
		{"services:\n  web:\n    image: x\n    imagee: y\n", MEM ":4:5: services.web: unknown key \"imagee\""},
		{"services:\n  web:\n    image: x\n    deploy:\n      replicas: three\n",
		 MEM ":5:17: services.web.deploy.replicas: expected an integer, got \"three\""},
		{"services:\n  web:\n    image: x\n    deploy:\n      replicas: -1\n",
		 MEM ":5:17: services.web.deploy.replicas: -1 is out of range (0 to 9223372036854775807)"},
		{"services:\n  web:\n    image: [x]\n", MEM ":3:12: services.web.image: expected a string, got a list"},
		{"services:\n  web:\n    image:\n", MEM ":3:11: services.web.image: expected a string, got null"},
		{"services:\n  web:\n    image: x\n    ports:\n      - \"80:80/icmp\"\n",
		 MEM ":5:9: services.web.ports[0]: invalid port \"80:80/icmp\": invalid protocol icmp (tcp, udp or sctp)"},
		{"services:\n  web:\n    image: x\n    ports:\n      - published: 80\n",
		 MEM ":5:9: services.web.ports[0]: a port needs a \"target\""},
		{"services:\n  web:\n    image: x\n    ports:\n      - target: 80\n        published: 70000\n",
		 MEM ":6:20: services.web.ports[0].published: 70000 is out of range (0 to 65535)"},
		{"services:\n  web:\n    image: x\n    stop_grace_period: 10 seconds\n",
		 MEM ":4:24: services.web.stop_grace_period: unknown unit \" seconds\" in duration \"10 seconds\" (valid: ns, us, ms, s, m, h)"},
		{"services:\n  web:\n    image: x\n    deploy:\n      resources:\n        limits:\n          memory: 12 parsecs\n",
		 MEM ":7:19: services.web.deploy.resources.limits.memory: invalid size \"12 parsecs\" (e.g. 512M, 1gb, 100k)"},
		{"services:\n  web:\n    image: x\n    deploy:\n      mode: daemon\n",
		 MEM ":5:13: services.web.deploy.mode: invalid value \"daemon\" (expected one of: replicated, global)"},
		{"services:\n  web:\n    image: x\n    deploy:\n      mode: global\n      replicas: 2\n",
		 MEM ":6:17: services.web: deploy.replicas can only be used with replicated mode"},
		{"services:\n  web:\n    image: x\n    deploy:\n      endpoint_mode: rr\n",
		 MEM ":5:22: services.web.deploy.endpoint_mode: invalid value \"rr\" (expected one of: vip, dnsrr)"},
		{"services:\n  web:\n    image: x\n    deploy:\n      update_config:\n        order: random\n",
		 MEM ":6:16: services.web.deploy.update_config.order: invalid value \"random\" (expected one of: stop-first, start-first)"},
		{"services:\n  web:\n    image: x\n    deploy:\n      restart_policy:\n        condition: always\n",
		 MEM ":6:20: services.web.deploy.restart_policy.condition: invalid value \"always\" (expected one of: none, on-failure, any)"},
		{"services:\n  web:\n    image: x\n    deploy:\n      update_config:\n        max_failure_ratio: 2\n",
		 MEM ":6:28: services.web.deploy.update_config.max_failure_ratio: 2 is out of range (0 to 1)"},
		{"services:\n  web:\n    image: x\n    deploy:\n      placement:\n        preferences: []\n",
		 MEM ":6:9: services.web.deploy.placement: \"preferences\" is not supported by swarmnode"},
		{"services:\n  web:\n    image: x\n    environment: 5\n",
		 MEM ":4:18: services.web.environment: expected a mapping or a list of \"KEY=VALUE\" strings, got \"5\""},
		{"services:\n  web:\n    image: x\n    environment: [[a]]\n",
		 MEM ":4:19: services.web.environment[0]: expected a \"KEY=VALUE\" string, got a list"},
		{"services:\n  web:\n    image: x\n    healthcheck:\n      test: [CMD, \"true\"]\n      disable: true\n",
		 MEM ":6:16: services.web.healthcheck: test and disable can't be set at the same time"},
		{"services:\n  web:\n    command: run\n", MEM ":2:3: services.web: \"image\" is required"},
		{"services:\n  \"we b\":\n    image: x\n", MEM ":2:3: services: invalid service name \"we b\" (letters, digits, '.', '_', '-')"},
		{"services:\n  web:\n    image: x\n    command: \"echo 'open\"\n",
		 MEM ":4:14: services.web.command: EOF found when expecting closing quote"},
		{"version: \"2.4\"\nservices:\n  web:\n    image: x\n",
		 MEM ":1:10: version: unsupported Compose file version: 2.4 (swarm mode needs 3.x)"},
		{"services: {}\n", MEM ":1:11: services: the stack defines no services"},
		{"version: \"3\"\n", MEM ":1:1: services: the stack defines no services"},
		{"services:\n  x-only: {image: x}\n", MEM ":2:3: services: the stack defines no services"},
		{"services:\n  a:\n    image: x\n    image: y\n", MEM ":4:5: mapping key \"image\" already defined at line 3"},
		{"- a\n- b\n", MEM ":1:1: the top-level object must be a mapping"},
		{"", MEM ":1:1: the top-level object must be a mapping"},
		{"services:\n  a: {image: x}\n---\nservices: {}\n", MEM ":4:1: a stack file holds one YAML document, this is a second one"},
		{"services:\n  a:\n    image: x\n    ? [k]\n    : v\n", MEM ":4:7: a mapping key must be a string, not a list"},
		{"services:\n  a:\n    image: \"a\\0b\"\n", MEM ":3:12: a NUL character is not allowed in a value"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_first_error(cases[i].yaml, cases[i].error);
}

static void every_error_is_collected(void **state)
{
	(void)state;
	char *m = load_err("services:\n  a:\n    image: x\n    user: [1]\n    bogus: 1\n"
			   "  b:\n    image: y\n    deploy: {replicas: many}\n");
	assert_string_equal(m, MEM ":4:11: services.a.user: expected a string, got a list\n"
			       MEM ":5:5: services.a: unknown key \"bogus\"\n"
			       MEM ":8:24: services.b.deploy.replicas: expected an integer, got \"many\"\n");
	free(m);
}

static void hostile_documents_are_bounded(void **state)
{
	(void)state;
	/* A billion laughs: 9^9 values once expanded. */
	const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
			   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
			   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
			   "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nservices: {}\n";
	char *m = load_err(bomb);
	assert_non_null(strstr(m, "more than 200000 values once aliases are expanded"));
	free(m);
	char deep[400] = "services: ";
	for (int i = 0; i < 100; i++)
		strcat(deep, "[");
	for (int i = 0; i < 100; i++)
		strcat(deep, "]");
	m = load_err(deep);
	assert_non_null(strstr(m, "nested more than 64 levels deep"));
	free(m);
}

static void sizes_are_bounded(void **state)
{
	(void)state;
	/* Lists and mappings of more than 4096 entries. */
	size_t cap = 4097 * 16 + 256;
	char *yaml = malloc(cap);
	strcpy(yaml, "services:\n  a:\n    image: x\n    ports: [");
	for (int i = 0; i < 4097; i++)
		strcat(yaml, "80, ");
	strcat(yaml, "]\n");
	assert_first_error(yaml, MEM ":4:12: more than 4096 entries in one list");
	strcpy(yaml, "services:\n  a:\n    image: x\n    environment: {");
	char *end = yaml + strlen(yaml);
	for (int i = 0; i < 4097; i++)
		end += sprintf(end, "K%d: v, ", i);
	strcpy(end, "}\n");
	assert_first_error(yaml, MEM ":4:18: more than 4096 entries in one mapping");
	free(yaml);
	/* One MiB aliased 70 times, and one MiB interpolated 70 times. */
	size_t mib = 1u << 20;
	char *big = malloc(mib + 600);
	strcpy(big, "x-big: &big \"");
	memset(big + strlen(big), 'y', mib);
	strcpy(big + 13 + mib, "\"\nx-many: [*big");
	for (int i = 0; i < 69; i++)
		strcat(big, ", *big");
	strcat(big, "]\nservices:\n  a:\n    image: x\n");
	char *m = load_err(big);
	assert_non_null(strstr(m, "more than 64 MiB of values once aliases are expanded"));
	free(m);
	char *value = malloc(mib + 8);
	strcpy(value, "BIG=");
	memset(value + 4, 'z', mib);
	value[4 + mib] = '\0';
	const char *env[] = {value, NULL};
	char text[512] = "services:\n  a:\n    image: \"";
	for (int i = 0; i < 70; i++)
		strcat(text, "$BIG");
	strcat(text, "\"\n");
	m = load_err_env(text, env);
	assert_string_equal(m, MEM ":3:12: services.a.image: more than 64 MiB of values once variables are expanded\n");
	free(m);
	free(value);
	free(big);
}

/* ---- names ---- */

static void stack_name_sources(void **state)
{
	(void)state;
	struct stack *s = load_fixture("My_Project/stack.yml", no_env, NULL);
	assert_string_equal(stack_name(s), "my_project");
	assert_json(jat(service(s, 0), "Name"), "\"my_project_app\"");
	stack_free(s);
	const char *named = "name: fromkey\nservices:\n  a:\n    image: x\n";
	struct stack_source src = {.path = MEM, .data = named, .len = strlen(named)};
	struct stack_diag diag;
	assert_int_equal(load_files(&src, 1, no_env, NULL, &s, &diag), 0);
	assert_string_equal(stack_name(s), "fromkey");
	stack_free(s);
	assert_int_equal(load_files(&src, 1, no_env, "given", &s, &diag), 0);
	assert_string_equal(stack_name(s), "given");
	stack_free(s);
	assert_int_equal(load_files(&src, 1, no_env, "bad name", &s, &diag), -EINVAL);
	assert_string_equal(diag.messages,
			    "stack name: invalid stack name \"bad name\" (letters, digits, '_', '-', '.'; at most 63)\n");
	stack_diag_free(&diag);
	const char *badkey = "name: \"-x\"\nservices:\n  a:\n    image: x\n";
	src.data = badkey;
	src.len = strlen(badkey);
	assert_int_equal(load_files(&src, 1, no_env, NULL, &s, &diag), -EINVAL);
	assert_string_equal(diag.messages, MEM ":1:7: name: invalid stack name \"-x\" (letters, digits, '_', '-', '.'; at most 63)\n");
	stack_diag_free(&diag);
}

static void missing_file_is_enoent(void **state)
{
	(void)state;
	struct stack_source src = {.path = "/no-such-dir/missing.yml"};
	struct stack *s;
	struct stack_diag diag;
	assert_int_equal(load_files(&src, 1, no_env, "x", &s, &diag), -ENOENT);
	assert_string_equal(diag.messages, "/no-such-dir/missing.yml: No such file or directory\n");
	stack_diag_free(&diag);
	const char *yaml = "services:\n  a:\n    image: x\n    env_file: [missing.env]\n";
	assert_first_error(yaml, MEM ":4:16: services.a.env_file[0]: cannot read env file /no-such-dir/missing.env: No such file or directory");
}

/* ---- spec comparison ---- */

static void spec_equal_is_canonical(void **state)
{
	(void)state;
	const char *yaml = "services:\n  a:\n    image: x\n    deploy: {replicas: 2}\n";
	struct stack *s1 = load_ok(yaml), *s2 = load_ok(yaml);
	struct stack *s3 = load_ok("services:\n  a:\n    image: x\n    deploy: {replicas: 3}\n");
	assert_true(stack_spec_equal(service(s1, 0), service(s2, 0)));
	assert_false(stack_spec_equal(service(s1, 0), service(s3, 0)));
	json_t *a = json_loads("{\"Name\":\"n\",\"Labels\":{},\"TaskTemplate\":{\"ForceUpdate\":0,\"Placement\":{}},"
			       "\"UpdateConfig\":{\"MaxFailureRatio\":0.0},\"EndpointSpec\":{\"Ports\":[]}}", 0, NULL);
	json_t *b = json_loads("{\"TaskTemplate\":{},\"Name\":\"n\",\"UpdateConfig\":{\"MaxFailureRatio\":0}}", 0, NULL);
	json_t *c = json_loads("{\"Name\":\"n\",\"Mode\":{\"Replicated\":{\"Replicas\":0}}}", 0, NULL);
	json_t *d = json_loads("{\"Name\":\"n\",\"Mode\":{\"Replicated\":{}}}", 0, NULL);
	json_t *e = json_loads("{\"Name\":\"n\",\"Labels\":{\"k\":\"v\"}}", 0, NULL);
	json_t *f = json_loads("{\"Name\":\"n\",\"TaskTemplate\":{\"ContainerSpec\":{\"Args\":[\"a\",\"b\"]}}}", 0, NULL);
	json_t *g = json_loads("{\"Name\":\"n\",\"TaskTemplate\":{\"ContainerSpec\":{\"Args\":[\"b\",\"a\"]}}}", 0, NULL);
	json_t *h = json_loads("{\"Name\":\"n\",\"UpdateConfig\":{\"MaxFailureRatio\":0.5}}", 0, NULL);
	json_t *i = json_loads("{\"Name\":\"n\",\"UpdateConfig\":{\"MaxFailureRatio\":0.50}}", 0, NULL);
	assert_true(stack_spec_equal(a, b));
	assert_true(stack_spec_equal(b, a));
	assert_false(stack_spec_equal(c, d));
	assert_true(stack_spec_equal(d, b));
	assert_false(stack_spec_equal(e, b));
	assert_false(stack_spec_equal(b, e));
	assert_false(stack_spec_equal(f, g));
	assert_true(stack_spec_equal(h, i));
	assert_false(stack_spec_equal(h, b));
	assert_true(stack_spec_equal(NULL, NULL));
	assert_false(stack_spec_equal(a, NULL));
	json_t *all[] = {a, b, c, d, e, f, g, h, i};
	for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
		json_decref(all[k]);
	stack_free(s1);
	stack_free(s2);
	stack_free(s3);
}

/* ---- the examples ---- */

static void examples_load(void **state)
{
	(void)state;
	static const char *const files[] = {"stack.yml", "stack-engine.yml"};
	for (size_t k = 0; k < 2; k++) {
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", EXAMPLES_DIR, files[k]);
		struct stack_source src = {.path = path};
		struct stack *s;
		struct stack_diag diag;
		if (load_files(&src, 1, no_env, NULL, &s, &diag) != 0) {
			print_error("%s", diag.messages);
			stack_diag_free(&diag);
			fail();
		}
		assert_string_equal(stack_name(s), "demo");
		assert_int_equal(json_array_size(stack_services(s)), 2);
		json_t *web = service(s, 0), *worker = service(s, 1);
		assert_json(jat(web, "Name"), "\"demo_web\"");
		assert_json(jat(web, "Mode"), "{\"Replicated\":{\"Replicas\":2}}");
		assert_json(jat(web, "EndpointSpec.Ports[0].PublishedPort"), "8080");
		assert_json(jat(worker, "Mode"), "{\"Replicated\":{\"Replicas\":3}}");
		assert_json(stack_warnings(s), "[]");
		if (k == 0) {
			assert_json(jat(web, "TaskTemplate.ContainerSpec.Args"), "[\"-m\",\"http.server\",\"--bind\",\"${SWARMNODE_NODE_ADDR}\",\"${PORT}\"]");
			assert_json(jat(worker, "TaskTemplate.ContainerSpec.Image"), "\"/bin/sh\"");
		}
		stack_free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_file_converts_every_key),
		cmocka_unit_test(defaults_are_docker_defaults),
		cmocka_unit_test(ports_short_and_long_sorted_by_published),
		cmocka_unit_test(environment_list_and_map),
		cmocka_unit_test(command_entrypoint_and_healthcheck_forms),
		cmocka_unit_test(restart_key_is_docker_fallback),
		cmocka_unit_test(networks_external_named_and_aliases),
		cmocka_unit_test(interpolation_forms),
		cmocka_unit_test(interpolation_errors),
		cmocka_unit_test(dotenv_beside_the_file),
		cmocka_unit_test(extensions_and_merge_keys),
		cmocka_unit_test(unsupported_options_reported_as_docker),
		cmocka_unit_test(later_files_override_earlier),
		cmocka_unit_test(an_error_in_any_file_loads_nothing),
		cmocka_unit_test(yaml_syntax_error_has_position),
		cmocka_unit_test(schema_errors_have_positions),
		cmocka_unit_test(every_error_is_collected),
		cmocka_unit_test(hostile_documents_are_bounded),
		cmocka_unit_test(sizes_are_bounded),
		cmocka_unit_test(stack_name_sources),
		cmocka_unit_test(missing_file_is_enoent),
		cmocka_unit_test(spec_equal_is_canonical),
		cmocka_unit_test(examples_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
