/* sim_runner: runs simulator scenarios over many seeds, reports failing seeds with their traces. */
#include "sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seeds a scenario runs when neither it, --seeds nor $SIM_SEEDS says. */
#define RUNNER_DEFAULT_SEEDS 100

/* Failed seeds listed by number in a scenario's summary line. */
#define RUNNER_LIST_FAILED 20

static int parse_u64(const char *s, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static void usage(const char *prog, FILE *out)
{
	fprintf(out,
		"usage: %s [--seeds N] [--first S] [--seed S] [--only NAME] [--verbose]\n"
		"  --seeds N    run N seeds per scenario (default: $SIM_SEEDS, else each scenario's own)\n"
		"  --first S    start at seed S (default 1)\n"
		"  --seed S     run seed S only, to reproduce a failure\n"
		"  --only NAME  run the scenario NAME only\n"
		"  --verbose    print every trace line as it is written\n",
		prog);
}

int sim_runner_parse(int argc, char **argv, struct sim_runner_opts *opts, FILE *err)
{
	*opts = (struct sim_runner_opts){ .first = 1, .max_dumps = 3 };
	const char *prog = argc > 0 ? argv[0] : "sim";
	bool seeds_given = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		/* Accept both "--opt value" and "--opt=value". */
		const char *names[] = { "--seeds", "--seed", "--first", "--only" };
		const char *name = NULL;
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			size_t n = strlen(names[k]);
			if (strncmp(a, names[k], n) == 0 && (a[n] == '\0' || a[n] == '=')) {
				name = names[k];
				if (a[n] == '=')
					val = a + n + 1;
				else if (i + 1 < argc)
					val = argv[++i];
				else {
					fprintf(err, "%s: %s needs a value\n", prog, a);
					return -1;
				}
				break;
			}
		}
		if (!name) {
			if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
				opts->verbose = true;
				continue;
			}
			if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
				usage(prog, err);
				return 1;
			}
			fprintf(err, "%s: unknown argument '%s'\n", prog, a);
			usage(prog, err);
			return -1;
		}
		if (!strcmp(name, "--only")) {
			opts->only = val;
			continue;
		}
		uint64_t v;
		if (parse_u64(val, &v) < 0) {
			fprintf(err, "%s: %s wants a number, not '%s'\n", prog, name, val);
			return -1;
		}
		if (!strcmp(name, "--seeds")) {
			if (v == 0) {
				fprintf(err, "%s: --seeds must be at least 1\n", prog);
				return -1;
			}
			opts->seeds = v;
			seeds_given = true;
		} else if (!strcmp(name, "--seed")) {
			opts->first = v;
			opts->one = true;
		} else {
			opts->first = v;
		}
	}
	const char *env = getenv("SIM_SEEDS");
	if (!seeds_given && !opts->one && env && *env) {
		uint64_t v;
		if (parse_u64(env, &v) < 0 || v == 0) {
			fprintf(err, "%s: SIM_SEEDS wants a positive number, not '%s'\n", prog, env);
			return -1;
		}
		opts->seeds = v;
	}
	return 0;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

uint64_t sim_runner_run(const struct sim_runner_opts *opts, const struct sim_scenario *scenarios,
			size_t count, const char *prog, FILE *out)
{
	uint64_t failed_total = 0;
	size_t selected = 0;
	for (size_t k = 0; k < count; k++) {
		const struct sim_scenario *sc = &scenarios[k];
		if (opts->only && strcmp(opts->only, sc->name) != 0)
			continue;
		selected++;
		uint64_t n = opts->one ? 1
			   : opts->seeds ? opts->seeds
			   : sc->seeds ? sc->seeds
				       : RUNNER_DEFAULT_SEEDS;
		uint64_t failed = 0;
		uint64_t listed[RUNNER_LIST_FAILED];
		uint64_t events = 0;
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (uint64_t j = 0; j < n; j++) {
			uint64_t seed = opts->first + j;
			struct sim *sim = sim_new(seed);
			if (opts->verbose)
				sim_set_trace_echo(sim, out);
			sim_tracef(sim, -1, "scenario %s, seed %" PRIu64, sc->name, seed);
			sc->run(sim, sc->data);
			events += sim_events(sim);
			if (sim_failed(sim)) {
				if (failed < RUNNER_LIST_FAILED)
					listed[failed] = seed;
				sim_report(sim, out, failed < opts->max_dumps && !opts->verbose);
				fprintf(out, "reproduce: %s --only %s --seed %" PRIu64 " --verbose\n", prog,
					sc->name, seed);
				failed++;
			}
			sim_free(sim);
		}
		double secs = seconds_since(&t0);
		fprintf(out, "%s: %" PRIu64 " seed%s from %" PRIu64 ", %" PRIu64 " failed, %" PRIu64
			" events, %.2f s\n",
			sc->name, n, n == 1 ? "" : "s", opts->first, failed, events, secs);
		if (failed) {
			fprintf(out, "%s: failed seeds:", sc->name);
			for (uint64_t j = 0; j < failed && j < RUNNER_LIST_FAILED; j++)
				fprintf(out, " %" PRIu64, listed[j]);
			fprintf(out, "%s\n", failed > RUNNER_LIST_FAILED ? " ..." : "");
		}
		fflush(out);
		failed_total += failed;
	}
	if (opts->only && selected == 0) {
		fprintf(out, "%s: no scenario named '%s'; there are:", prog, opts->only);
		for (size_t k = 0; k < count; k++)
			fprintf(out, " %s", scenarios[k].name);
		fprintf(out, "\n");
		return 1;
	}
	return failed_total;
}

int sim_main(int argc, char **argv, const struct sim_scenario *scenarios, size_t count)
{
	struct sim_runner_opts opts;
	int r = sim_runner_parse(argc, argv, &opts, stderr);
	if (r < 0)
		return 2;
	if (r > 0)
		return 0;
	const char *prog = argc > 0 ? argv[0] : "sim";
	return sim_runner_run(&opts, scenarios, count, prog, stdout) ? 1 : 0;
}
