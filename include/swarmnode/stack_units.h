/* stack_units: the value syntaxes of compose files: Go durations, byte
 * sizes, CPU counts, port specs and shell-style command strings, converted
 * the way docker/cli converts them. Each returns 0 or -1 with the reason in
 * err ("what is wrong"), never a partial result. */
#ifndef SWARMNODE_STACK_UNITS_H
#define SWARMNODE_STACK_UNITS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* "1m30s", "1.5h", "300ms", "0" (Go's time.ParseDuration, without
 * negative values) -> nanoseconds. */
int stack_parse_duration(const char *s, int64_t *ns, char *err, size_t errlen);

/* "512M", "1gb", "1.5g", "100" (docker's units.RAMInBytes: binary
 * multiples, optional i and b) -> bytes. */
int stack_parse_bytes(const char *s, int64_t *bytes, char *err, size_t errlen);

/* "0.5", "2" -> nano CPUs (at most 9 decimals, as docker's ParseCPUs). */
int stack_parse_cpus(const char *s, int64_t *nano, char *err, size_t errlen);

/* A short-syntax port ("80", "8080:80", "8080:80/udp", "9000-9002:80-82",
 * "127.0.0.1:8080:80") -> appends EndpointSpec.Ports objects to ports
 * ({"Protocol","TargetPort","PublishedPort","PublishMode":"ingress"}).
 * A host IP is dropped (swarm publishes on every address); if warn is not
 * NULL it receives docker's warning text for that case ("" otherwise). */
int stack_parse_port(const char *s, json_t *ports, char *warn, size_t warnlen, char *err, size_t errlen);

/* Splits a command string the way docker/cli's shlex does (quotes,
 * backslashes, # comments) into an array of strings appended to argv. */
int stack_split_command(const char *s, json_t *argv, char *err, size_t errlen);

#endif
