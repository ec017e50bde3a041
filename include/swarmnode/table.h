/* table: column-aligned text output as docker's CLI prints lists (ID  NAME  ...). */
#ifndef SWARMNODE_TABLE_H
#define SWARMNODE_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define TABLE_MAX_COLUMNS 12

/* A table collects every cell first, so widths fit the longest one. */
struct table {
	size_t ncols;
	size_t nrows;          /* including the header row */
	size_t cap;
	char **cells;          /* nrows * ncols strings, owned */
	size_t width[TABLE_MAX_COLUMNS];
};

/* Starts a table with a header row of ncols column names. */
void table_init(struct table *t, size_t ncols, const char *const *headers);

/* Appends a row of exactly ncols cells (copied; NULL prints as empty). */
void table_add_row(struct table *t, const char *const *cells);

/* Prints the rows with columns separated by at least three spaces, the last
 * column unpadded, then frees the table. */
void table_print(struct table *t, FILE *out);

/* Frees the table without printing it. */
void table_discard(struct table *t);

#endif
