/* Fuzz target: arbitrary bytes as stack files through stack_load. The input
 * is cut at each "\n#--\n" into up to four files that are merged in order.
 * What loads must be complete and self-consistent; what fails must say why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "swarmnode/stack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FILES 4

static const char *const fuzz_environ[] = {"TAG=1.0", "EMPTY=", "PORT_WEB=8080", "HOME=/root", NULL};

static size_t split_files(const char *text, size_t size, struct stack_source *files)
{
	static const char cut[] = "\n#--\n";
	size_t n = 0, start = 0;
	while (n + 1 < MAX_FILES) {
		const char *at = memmem(text + start, size - start, cut, sizeof(cut) - 1);
		if (at == NULL)
			break;
		size_t end = (size_t)(at - text);
		files[n++] = (struct stack_source){.path = "/nonexistent-fuzz/stack.yml", .data = text + start,
						    .len = end - start};
		start = end + sizeof(cut) - 1;
	}
	files[n++] = (struct stack_source){.path = "/nonexistent-fuzz/override.yml", .data = text + start,
					    .len = size - start};
	return n;
}

static void check_loaded(struct stack *stack)
{
	json_t *services = stack_services(stack);
	if (json_array_size(services) == 0 || stack_name(stack)[0] == '\0')
		abort();
	for (size_t i = 0; i < json_array_size(services); i++) {
		json_t *spec = json_array_get(services, i);
		if (!stack_spec_equal(spec, spec))
			abort();
		if (json_string_value(json_object_get(spec, "Name")) == NULL)
			abort();
	}
	json_t *doc = stack_to_json(stack);
	char *text = json_dumps(doc, JSON_COMPACT);
	if (text == NULL)
		abort(); /* every string we produced must be valid UTF-8 */
	free(text);
	json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	char *text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct stack_source files[MAX_FILES];
	size_t n = split_files(text, size, files);
	struct stack *stack;
	struct stack_diag diag;
	int rc = stack_load(files, n, fuzz_environ, size % 2 ? "fz" : NULL, &stack, &diag);
	if (rc == 0) {
		if (diag.count != 0 || stack == NULL)
			abort();
		check_loaded(stack);
		stack_free(stack);
	} else if (stack != NULL || diag.count == 0 || diag.messages == NULL) {
		abort(); /* every refusal says why, and returns nothing */
	}
	stack_diag_free(&diag);
	free(text);
	return 0;
}
