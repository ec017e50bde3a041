/* Unit tests for service_spec: checks, defaults, port conflicts and ingress port allocation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "swarmnode/service_spec.h"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (j == NULL)
		fail_msg("bad test JSON: %s: %s", e.text, text);
	return j;
}

#define MINIMAL "{\"Name\":\"web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox\"}}}"

/* Checks a spec expected to be refused with exactly msg. */
static void refused(const char *text, const char *msg)
{
	char err[SERVICE_SPEC_ERR_MAX] = "";
	json_t *spec = parse(text);
	int rc = service_spec_check(spec, err, sizeof(err));
	if (rc != -EINVAL || strcmp(err, msg) != 0)
		fail_msg("spec %s\n  want -EINVAL \"%s\"\n  got  %d \"%s\"", text, msg, rc, err);
	json_decref(spec);
}

static void accepted(const char *text)
{
	char err[SERVICE_SPEC_ERR_MAX] = "";
	json_t *spec = parse(text);
	if (service_spec_check(spec, err, sizeof(err)) != 0)
		fail_msg("spec %s refused: %s", text, err);
	json_decref(spec);
}

static void minimal_and_docker_cli_specs_pass(void **state)
{
	(void)state;
	accepted(MINIMAL);
	/* What docker service create -p 8080:80 --replicas 2 sends, unknown fields and nulls included. */
	accepted("{\"Name\":\"nginx1\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"busybox:local\","
		 "\"Args\":[\"/bin/httpd\",\"-f\"],\"Init\":false,\"DNSConfig\":{},\"Privileges\":{\"CredentialSpec\":"
		 "null}},\"Resources\":{\"Limits\":{},\"Reservations\":{}},\"Placement\":{},\"ForceUpdate\":0},"
		 "\"Mode\":{\"Replicated\":{\"Replicas\":2}},\"EndpointSpec\":{\"Mode\":\"vip\",\"Ports\":[{\"Protocol\":"
		 "\"tcp\",\"TargetPort\":80,\"PublishedPort\":8080,\"PublishMode\":\"ingress\"}]},\"UpdateConfig\":null}");
	accepted("{\"Name\":\"g\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"/bin/sleep\"},\"Placement\":"
		 "{\"Constraints\":[\"node.role == manager\",\"node.labels.zone!=eu-1\",\"engine.labels.os==linux\"]}},"
		 "\"Mode\":{\"Global\":{}}}");
}

static void names_follow_swarmkit(void **state)
{
	(void)state;
	refused("{\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\"}}}", "meta: name must be provided");
	refused("{\"Name\":\"-web\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\"}}}",
		"name must be valid as a DNS name component");
	refused("{\"Name\":\"we b\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\"}}}",
		"name must be valid as a DNS name component");
	refused("{\"Name\":\"a234567890123456789012345678901234567890123456789012345678901234\",\"TaskTemplate\":"
		"{\"ContainerSpec\":{\"Image\":\"b\"}}}", "name must be 63 characters or fewer");
	refused("{\"Name\":5}", "Name: expected a string");
	accepted("{\"Name\":\"my_web-2\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\"}}}");
	char name[SERVICE_NAME_MAX + 1];
	for (uint32_t r = 0; r < 2000; r += 7) {
		service_spec_random_name(r, name);
		char text[256];
		snprintf(text, sizeof(text), "{\"Name\":\"%s\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\"}}}",
			 name);
		accepted(text);
	}
}

static void container_fields_are_named(void **state)
{
	(void)state;
	refused("{\"Name\":\"w\"}", "ContainerSpec: image reference must be provided");
	refused("{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{}}}", "ContainerSpec: image reference must be provided");
	refused("{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"a b\"}}}",
		"ContainerSpec: \"a b\" is not a valid repository/tag");
	refused("{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\",\"Env\":[\"A=1\",\"B=2\",3]}}}",
		"TaskTemplate.ContainerSpec.Env[2]: expected a string");
	refused("{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\",\"Env\":[\"=x\"]}}}",
		"TaskTemplate.ContainerSpec.Env[0]: invalid environment variable \"=x\": expected NAME=VALUE");
	refused("{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\",\"Args\":\"x\"}}}",
		"TaskTemplate.ContainerSpec.Args: expected an array of strings");
	refused("{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\",\"StopGracePeriod\":-1}}}",
		"TaskTemplate.ContainerSpec.StopGracePeriod: cannot be negative");
	refused("{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\",\"StopGracePeriod\":1.5}}}",
		"TaskTemplate.ContainerSpec.StopGracePeriod: expected an integer (nanoseconds)");
	refused("{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\",\"Labels\":{\"a\":1}}}}",
		"TaskTemplate.ContainerSpec.Labels.a: expected a string");
	refused("{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\",\"Healthcheck\":{\"Interval\":5}}}}",
		"ContainerSpec: Interval in HealthConfig cannot be less than 1ms");
	refused("{\"Name\":\"w\",\"Labels\":[],\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\"}}}",
		"Labels: expected an object of strings");
	refused("[]", "the service spec must be a JSON object");
}

static void task_settings_use_docker_messages(void **state)
{
	(void)state;
	refused("{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\"},\"RestartPolicy\":{\"Delay\":-1}}}",
		"TaskSpec: restart-delay cannot be negative");
	refused("{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\"},\"RestartPolicy\":"
		"{\"Condition\":\"always\"}}}",
		"TaskTemplate.RestartPolicy.Condition: invalid value \"always\": expected one of none, on-failure, any");
	refused("{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\"},\"Resources\":{\"Limits\":"
		"{\"NanoCPUs\":10}}}}", "invalid cpu value 1e-08: Must be at least 0.001");
	refused("{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\"},\"Resources\":{\"Reservations\":"
		"{\"MemoryBytes\":1024}}}}", "invalid memory value 1024: Must be at least 4MiB");
	refused("{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\"},\"Resources\":{\"Limits\":"
		"{\"MemoryBytes\":-5}}}}", "TaskTemplate.Resources.Limits.MemoryBytes: -5 is out of range "
		"[0, 9223372036854775807]");
	refused("{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\"},\"Networks\":[{}]}}",
		"TaskTemplate.Networks[0].Target: expected a string");
}

static void constraints_are_checked_and_named(void **state)
{
	(void)state;
	char err[SERVICE_SPEC_ERR_MAX];
	assert_int_equal(service_constraint_check("node.role==manager", err, sizeof(err)), 0);
	assert_int_equal(service_constraint_check(" node.hostname != h1 ", err, sizeof(err)), 0);
	assert_int_equal(service_constraint_check("node.role=manager", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "constraint expected one operator from ==, !=");
	assert_int_equal(service_constraint_check("node role==manager", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "key 'node role' is invalid");
	assert_int_equal(service_constraint_check("node.role==man<ager", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "value 'man<ager' is invalid");
	assert_int_equal(service_constraint_check("node.role==", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "value '' is invalid");
	assert_int_equal(service_constraint_check("node.colour==red", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "key 'node.colour' is invalid: expected node.id"));
	assert_int_equal(service_constraint_check("node.labels.==x", err, sizeof(err)), -EINVAL);
	refused("{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\"},\"Placement\":{\"Constraints\":"
		"[\"node.role==manager\",\"node.role=worker\"]}}}",
		"TaskTemplate.Placement.Constraints[1] \"node.role=worker\": constraint expected one operator from ==, !=");
}

static void mode_and_update_configs(void **state)
{
	(void)state;
#define TT "\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\"}}"
	refused("{\"Name\":\"w\"," TT ",\"Mode\":{\"Replicated\":{\"Replicas\":-1}}}", "Number of replicas must be non-negative");
	refused("{\"Name\":\"w\"," TT ",\"Mode\":{\"Replicated\":{\"Replicas\":100001}}}",
		"Mode.Replicated.Replicas: 100001 is out of range [0, 100000]");
	refused("{\"Name\":\"w\"," TT ",\"Mode\":{\"Replicated\":{},\"Global\":{}}}", "Mode: either Replicated or Global, not both");
	refused("{\"Name\":\"w\"," TT ",\"Mode\":{\"ReplicatedJob\":{}}}", "Mode: jobs (ReplicatedJob, GlobalJob) are not supported");
	refused("{\"Name\":\"w\"," TT ",\"UpdateConfig\":{\"Delay\":-1}}", "TaskSpec: update-delay cannot be negative");
	refused("{\"Name\":\"w\"," TT ",\"UpdateConfig\":{\"Monitor\":-1}}", "TaskSpec: update-monitor cannot be negative");
	refused("{\"Name\":\"w\"," TT ",\"UpdateConfig\":{\"MaxFailureRatio\":1.5}}",
		"TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1");
	refused("{\"Name\":\"w\"," TT ",\"UpdateConfig\":{\"Order\":\"random\"}}",
		"UpdateConfig.Order: invalid value \"random\": expected one of stop-first, start-first");
	refused("{\"Name\":\"w\"," TT ",\"RollbackConfig\":{\"FailureAction\":\"rollback\"}}",
		"RollbackConfig.FailureAction: invalid value \"rollback\": expected one of pause, continue");
	accepted("{\"Name\":\"w\"," TT ",\"UpdateConfig\":{\"FailureAction\":\"rollback\",\"MaxFailureRatio\":0.5}}");
}

static void endpoint_spec_rules(void **state)
{
	(void)state;
	refused("{\"Name\":\"w\"," TT ",\"EndpointSpec\":{\"Mode\":\"dnsrr\",\"Ports\":[{\"TargetPort\":80}]}}",
		"EndpointSpec: port published with ingress mode can't be used with dnsrr mode");
	accepted("{\"Name\":\"w\"," TT ",\"EndpointSpec\":{\"Mode\":\"dnsrr\",\"Ports\":[{\"TargetPort\":80,"
		 "\"PublishMode\":\"host\"}]}}");
	refused("{\"Name\":\"w\"," TT ",\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":80,\"PublishedPort\":8080},"
		"{\"TargetPort\":81,\"PublishedPort\":8080,\"Protocol\":\"tcp\"}]}}",
		"EndpointSpec: duplicate published ports provided");
	accepted("{\"Name\":\"w\"," TT ",\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":53,\"PublishedPort\":53},"
		 "{\"TargetPort\":53,\"PublishedPort\":53,\"Protocol\":\"udp\"},{\"TargetPort\":80},{\"TargetPort\":81}]}}");
	refused("{\"Name\":\"w\"," TT ",\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":0}]}}",
		"EndpointSpec.Ports[0].TargetPort: a target port between 1 and 65535 is required");
	refused("{\"Name\":\"w\"," TT ",\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":80,\"PublishedPort\":70000}]}}",
		"EndpointSpec.Ports[0].PublishedPort: 70000 is out of range [0, 65535]");
	refused("{\"Name\":\"w\"," TT ",\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":80,\"Protocol\":\"icmp\"}]}}",
		"EndpointSpec.Ports[0].Protocol: invalid value \"icmp\": expected one of tcp, udp, sctp");
	refused("{\"Name\":\"w\"," TT ",\"EndpointSpec\":{\"Mode\":\"round\"}}",
		"EndpointSpec.Mode: invalid value \"round\": expected one of vip, dnsrr");
}

static void defaults_fill_what_is_missing_only(void **state)
{
	(void)state;
	json_t *spec = parse("{\"Name\":\"w\",\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\"},\"RestartPolicy\":"
			     "{\"Condition\":\"none\"}},\"UpdateConfig\":{\"Parallelism\":3,\"Order\":\"\"},"
			     "\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":80}]}}");
	json_t *d = service_spec_with_defaults(spec);
	json_t *want = parse("{\"Name\":\"w\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"b\","
			     "\"StopGracePeriod\":10000000000},\"RestartPolicy\":{\"Condition\":\"none\",\"Delay\":5000000000,"
			     "\"MaxAttempts\":0},\"ForceUpdate\":0},\"Mode\":{\"Replicated\":{\"Replicas\":1}},"
			     "\"UpdateConfig\":{\"Parallelism\":3,\"FailureAction\":\"pause\",\"Monitor\":5000000000,"
			     "\"MaxFailureRatio\":0,\"Order\":\"stop-first\"},\"RollbackConfig\":{\"Parallelism\":1,"
			     "\"FailureAction\":\"pause\",\"Monitor\":5000000000,\"MaxFailureRatio\":0,\"Order\":"
			     "\"stop-first\"},\"EndpointSpec\":{\"Mode\":\"vip\",\"Ports\":[{\"TargetPort\":80,"
			     "\"Protocol\":\"tcp\",\"PublishMode\":\"ingress\"}]}}");
	if (!json_equal(d, want)) {
		char *got = json_dumps(d, JSON_SORT_KEYS);
		fail_msg("defaults: %s", got);
	}
	assert_false(service_spec_is_global(d));
	json_decref(want);
	json_decref(d);
	json_decref(spec);
	spec = parse("{\"Name\":\"g\",\"Mode\":{\"Global\":{}}," TT "}");
	d = service_spec_with_defaults(spec);
	assert_true(service_spec_is_global(d));
	assert_null(json_object_get(json_object_get(d, "Mode"), "Replicated"));
	json_decref(d);
	json_decref(spec);
}

static json_t *service(const char *id, const char *name, const char *ports, const char *endpoint_ports)
{
	char text[1024];
	snprintf(text, sizeof(text), "{\"ID\":\"%s\",\"Spec\":{\"Name\":\"%s\",\"EndpointSpec\":{\"Ports\":%s}},"
		 "\"Endpoint\":{\"Ports\":%s}}", id, name, ports, endpoint_ports);
	return parse(text);
}

static void port_conflicts_follow_swarmkit(void **state)
{
	(void)state;
	char err[SERVICE_SPEC_ERR_MAX] = "";
	json_t *web = service("id1", "web", "[{\"TargetPort\":80,\"PublishedPort\":8080,\"Protocol\":\"tcp\","
			      "\"PublishMode\":\"ingress\"}]", "[{\"TargetPort\":80,\"PublishedPort\":8080,"
			      "\"Protocol\":\"tcp\",\"PublishMode\":\"ingress\"},{\"TargetPort\":81,\"PublishedPort\":30000,"
			      "\"Protocol\":\"tcp\",\"PublishMode\":\"ingress\"}]");
	json_t *hosty = service("id2", "hosty", "[{\"TargetPort\":80,\"PublishedPort\":9090,\"Protocol\":\"tcp\","
				"\"PublishMode\":\"host\"}]", "[]");
	json_t *s1 = parse("{\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":1,\"PublishedPort\":8080,\"Protocol\":\"tcp\","
			   "\"PublishMode\":\"ingress\"}]}}");
	assert_int_equal(service_ports_conflict(s1, web, err, sizeof(err)), -EADDRINUSE);
	assert_string_equal(err, "port '8080' is already in use by service 'web' (id1) as an ingress port");
	json_t *s2 = parse("{\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":1,\"PublishedPort\":8080,\"Protocol\":\"udp\","
			   "\"PublishMode\":\"ingress\"},{\"TargetPort\":1,\"PublishedPort\":9090,\"Protocol\":\"tcp\","
			   "\"PublishMode\":\"host\"}]}}");
	assert_int_equal(service_ports_conflict(s2, web, err, sizeof(err)), 0);   /* other protocol */
	assert_int_equal(service_ports_conflict(s2, hosty, err, sizeof(err)), 0); /* host beside host */
	json_t *s3 = parse("{\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":1,\"PublishedPort\":9090,\"Protocol\":\"tcp\","
			   "\"PublishMode\":\"ingress\"}]}}");
	assert_int_equal(service_ports_conflict(s3, hosty, err, sizeof(err)), -EADDRINUSE);
	assert_string_equal(err, "port '9090' is already in use by service 'hosty' (id2) as a host-published port");
	json_t *s4 = parse("{\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":1,\"PublishedPort\":30000,\"Protocol\":\"tcp\","
			   "\"PublishMode\":\"host\"}]}}");
	assert_int_equal(service_ports_conflict(s4, web, err, sizeof(err)), -EADDRINUSE); /* a dynamic one */
	json_decref(s1);
	json_decref(s2);
	json_decref(s3);
	json_decref(s4);
	json_decref(web);
	json_decref(hosty);
}

static void endpoint_allocates_lowest_free_dynamic_port(void **state)
{
	(void)state;
	char err[SERVICE_SPEC_ERR_MAX] = "";
	struct service_port_set *used = calloc(1, sizeof(*used));
	json_t *other = service("id1", "web", "[]", "[{\"TargetPort\":80,\"PublishedPort\":30000,\"Protocol\":\"tcp\","
			       "\"PublishMode\":\"ingress\"}]");
	service_port_set_add_service(used, other);
	assert_true(service_port_set_has(used, SERVICE_PROTO_TCP, 30000));
	assert_false(service_port_set_has(used, SERVICE_PROTO_UDP, 30000));
	json_t *raw = parse("{\"Name\":\"w\"," TT ",\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":80},{\"TargetPort\":81,"
			    "\"PublishedPort\":30001},{\"TargetPort\":82},{\"TargetPort\":83,\"PublishMode\":\"host\"},"
			    "{\"TargetPort\":84,\"Protocol\":\"udp\"}]}}");
	json_t *spec = service_spec_with_defaults(raw), *ep;
	assert_int_equal(service_endpoint_build(spec, NULL, used, &ep, err, sizeof(err)), 0);
	json_t *ports = json_object_get(ep, "Ports");
	assert_int_equal(json_array_size(ports), 5);
	const json_int_t want[] = {30002, 30001, 30003, 0, 30000};
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(json_integer_value(json_object_get(json_array_get(ports, i), "PublishedPort")), want[i]);
	assert_true(json_equal(json_object_get(ep, "Spec"), json_object_get(spec, "EndpointSpec")));
	/* An update keeps the dynamic ports the service had. */
	json_t *ep2;
	assert_int_equal(service_endpoint_build(spec, ep, used, &ep2, err, sizeof(err)), 0);
	assert_true(json_equal(ep, ep2));
	json_decref(ep2);
	json_decref(ep);
	/* Range full. */
	for (uint32_t p = SERVICE_DYNAMIC_PORT_FIRST; p <= SERVICE_DYNAMIC_PORT_LAST; p++)
		used->bits[SERVICE_PROTO_TCP][p / 8] |= (uint8_t)(1u << (p % 8));
	assert_int_equal(service_endpoint_build(spec, NULL, used, &ep, err, sizeof(err)), -ENOSPC);
	assert_null(ep);
	assert_string_equal(err, "could not find an available port in the dynamic range 30000-32767 for "
			    "EndpointSpec.Ports[0]");
	json_decref(spec);
	json_decref(raw);
	/* No ports: an endpoint with its spec only. */
	raw = parse("{\"Name\":\"w\"," TT "}");
	spec = service_spec_with_defaults(raw);
	assert_int_equal(service_endpoint_build(spec, NULL, used, &ep, err, sizeof(err)), 0);
	assert_null(json_object_get(ep, "Ports"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(ep, "Spec"), "Mode")), "vip");
	json_decref(ep);
	json_decref(spec);
	json_decref(raw);
	json_decref(other);
	free(used);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(minimal_and_docker_cli_specs_pass),
		cmocka_unit_test(names_follow_swarmkit),
		cmocka_unit_test(container_fields_are_named),
		cmocka_unit_test(task_settings_use_docker_messages),
		cmocka_unit_test(constraints_are_checked_and_named),
		cmocka_unit_test(mode_and_update_configs),
		cmocka_unit_test(endpoint_spec_rules),
		cmocka_unit_test(defaults_fill_what_is_missing_only),
		cmocka_unit_test(port_conflicts_follow_swarmkit),
		cmocka_unit_test(endpoint_allocates_lowest_free_dynamic_port),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
