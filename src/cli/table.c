/* table: column-aligned text output as docker's CLI prints lists. */
#include "swarmnode/table.h"

#include <stdlib.h>
#include <string.h>

/* docker's CLI uses Go's text/tabwriter with a minimum cell width of 10 and
 * a padding of 3; widths here count bytes, which is right for the ids, names
 * and states we print. */
#define TABLE_PADDING 3
#define TABLE_MIN_WIDTH 10

void table_init(struct table *t, size_t ncols, const char *const *headers)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols < TABLE_MAX_COLUMNS ? ncols : TABLE_MAX_COLUMNS;
	table_add_row(t, headers);
}

void table_add_row(struct table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = realloc(t->cells, t->cap * t->ncols * sizeof(char *));
		if (t->cells == NULL)
			abort();
	}
	for (size_t c = 0; c < t->ncols; c++) {
		const char *s = cells[c] ? cells[c] : "";
		char *copy = strdup(s);
		if (copy == NULL)
			abort();
		t->cells[t->nrows * t->ncols + c] = copy;
		size_t w = strlen(s);
		if (w > t->width[c])
			t->width[c] = w;
	}
	t->nrows++;
}

static size_t table_cell_width(size_t text_width)
{
	size_t w = text_width + TABLE_PADDING;
	return w < TABLE_MIN_WIDTH ? TABLE_MIN_WIDTH : w;
}

void table_print(struct table *t, FILE *out)
{
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (c + 1 == t->ncols)
				fputs(s, out);
			else
				fprintf(out, "%-*s", (int)table_cell_width(t->width[c]), s);
			free(t->cells[r * t->ncols + c]);
		}
		fputc('\n', out);
	}
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

void table_discard(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
