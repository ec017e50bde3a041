/* Fuzz target: a ServiceSpec from arbitrary JSON bytes through the checks, the defaults and the endpoint builder; a spec that passes must still pass with its defaults filled, and its endpoint must publish every ingress port. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/service_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct service_port_set used;

/* Every ingress port of the endpoint is published, and none twice per protocol. */
static void check_endpoint(const json_t *ep)
{
	json_t *ports = json_object_get(ep, "Ports"), *p, *q;
	size_t i, j;
	json_array_foreach(ports, i, p) {
		const char *mode = json_string_value(json_object_get(p, "PublishMode"));
		json_int_t pub = json_integer_value(json_object_get(p, "PublishedPort"));
		if (mode != NULL && strcmp(mode, "ingress") == 0 && (pub <= 0 || pub > 65535))
			abort();
		json_array_foreach(ports, j, q) {
			if (j >= i)
				break;
			if (pub != 0 && json_integer_value(json_object_get(q, "PublishedPort")) == pub &&
			    json_equal(json_object_get(q, "Protocol"), json_object_get(p, "Protocol")))
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[SERVICE_SPEC_ERR_MAX];
	json_t *spec = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	if (spec == NULL)
		return 0;
	/* The first bytes also serve as a constraint expression. */
	char expr[64];
	size_t n = size < sizeof(expr) - 1 ? size : sizeof(expr) - 1;
	memcpy(expr, data, n);
	expr[n] = '\0';
	service_constraint_check(expr, err, sizeof(err));
	json_t *with = service_spec_with_defaults(spec);
	if (service_spec_check(spec, err, sizeof(err)) == 0) {
		if (with == NULL || service_spec_check(with, err, sizeof(err)) != 0)
			abort();
		json_t *again = service_spec_with_defaults(with);
		if (again == NULL || !json_equal(again, with))
			abort();
		json_decref(again);
		used.bits[SERVICE_PROTO_TCP][30000 / 8] = 0xff;
		json_t *ep = NULL;
		if (service_endpoint_build(with, NULL, &used, &ep, err, sizeof(err)) == 0) {
			check_endpoint(ep);
			json_t *svc = json_pack("{s:s, s:O, s:o}", "ID", "x", "Spec", with, "Endpoint", ep);
			service_ports_conflict(with, svc, err, sizeof(err));
			json_decref(svc);
		}
	}
	json_decref(with);
	json_decref(spec);
	return 0;
}
