/* stack_convert: the state shared by the service converter and its deploy section. */
#ifndef SWARMNODE_STACK_CONVERT_H
#define SWARMNODE_STACK_CONVERT_H

#include "stack_internal.h"

/* One service while it is converted; the parts are put together in the
 * field order of Docker's Go types at the end. */
struct stack_svc {
	const char *name;                 /* the key under services: */
	char path[300];                   /* "services.NAME", for messages */
	json_t *container;                /* ContainerSpec fields, any order */
	json_t *task;                     /* TaskTemplate fields other than ContainerSpec */
	json_t *spec;                     /* ServiceSpec fields other than TaskTemplate */
	json_t *deploy_labels;            /* deploy.labels */
	json_t *labels;                   /* labels */
	json_t *env;                      /* environment: name -> string or null */
	json_t *file_env;                 /* env_file variables: name -> string or null */
	json_t *ports;                    /* EndpointSpec.Ports */
	json_t *networks;                 /* name -> {"node": position, "aliases": [...]} */
	const char *endpoint_mode;        /* deploy.endpoint_mode, NULL if unset */
	const char *mode;                 /* deploy.mode, NULL if unset */
	const struct snode *replicas;     /* deploy.replicas, NULL if unset */
	int64_t replica_count;
	const struct snode *restart;      /* the service-level restart: docker's fallback policy */
	bool has_restart_policy;          /* deploy.restart_policy given */
};

/* The converter: the walker's data. */
struct stack_conv {
	const struct stack_convert_in *in;
	json_t *ignored;    /* set (object) of unsupported option names used */
	json_t *deprecated; /* name -> docker's description */
	json_t *netdefs;    /* top-level networks: key -> {"target","external","create"} */
	json_t *used_nets;  /* set of network keys services attach to */
};

/* deploy: (stack_deploy.c) */
int stack_convert_deploy(struct stack_walk *w, const struct snode *v, const char *path, void *svc);
/* The restart: key's policy, used when deploy.restart_policy is absent. */
int stack_convert_restart(struct stack_walk *w, struct stack_svc *s);

/* The ServiceSpec of a converted service, fields in Docker's order (stack_assemble.c). New reference. */
json_t *stack_assemble_service(const struct stack_conv *c, const struct stack_svc *s);

/* The network create requests and external names for the networks used. */
void stack_assemble_networks(const struct stack_conv *c, json_t *create, json_t *external);

#endif
