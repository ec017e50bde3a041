/* store_table: sorted arrays of (key, id, object) for the store's objects and indexes. */
#include <stdint.h>
#include <string.h>

#include "store_internal.h"

static int ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* Our own folding, not strcasecmp: the result must not depend on the locale
 * a host happened to set, or managers could order an index differently. */
static int fold_cmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
	while (*x != '\0' && ascii_lower(*x) == ascii_lower(*y)) {
		x++;
		y++;
	}
	return ascii_lower(*x) - ascii_lower(*y);
}

int store_key_cmp(const struct store_table *t, const char *a, const char *b)
{
	return t->fold ? fold_cmp(a, b) : strcmp(a, b);
}

static int entry_cmp(const struct store_table *t, const struct store_entry *e, const char *key,
		     const char *id)
{
	int c = store_key_cmp(t, e->key, key);
	if (c != 0)
		return c;
	if (id == NULL)
		return 1; /* (key, NULL) sorts before every id */
	return strcmp(e->id, id);
}

void *store_mem_calloc(size_t n, size_t size)
{
	json_malloc_t alloc;
	json_free_t release;
	json_get_alloc_funcs(&alloc, &release);
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	void *p = alloc(n * size > 0 ? n * size : 1);
	if (p != NULL)
		memset(p, 0, n * size);
	return p;
}

void store_mem_free(void *p)
{
	json_malloc_t alloc;
	json_free_t release;
	json_get_alloc_funcs(&alloc, &release);
	if (p != NULL)
		release(p);
}

int store_table_reserve(struct store_table *t, size_t n)
{
	if (n <= t->cap)
		return 0;
	size_t cap = t->cap < 16 ? 16 : t->cap;
	while (cap < n)
		cap *= 2;
	struct store_entry *v = store_mem_calloc(cap, sizeof(*v));
	if (v == NULL)
		return STORE_E_NOMEM;
	if (t->len > 0)
		memcpy(v, t->v, t->len * sizeof(*v));
	store_mem_free(t->v);
	t->v = v;
	t->cap = cap;
	return 0;
}

size_t store_table_lower_bound(const struct store_table *t, const char *key, const char *id)
{
	size_t lo = 0, hi = t->len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (entry_cmp(t, &t->v[mid], key, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t store_table_upper_bound(const struct store_table *t, const char *key)
{
	size_t lo = 0, hi = t->len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (store_key_cmp(t, t->v[mid].key, key) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void store_table_insert(struct store_table *t, struct store_entry e)
{
	size_t pos = store_table_lower_bound(t, e.key, e.id);
	memmove(&t->v[pos + 1], &t->v[pos], (t->len - pos) * sizeof(*t->v));
	t->v[pos] = e;
	t->len++;
}

size_t store_table_find(const struct store_table *t, const char *key, const char *id)
{
	size_t pos = store_table_lower_bound(t, key, id);
	if (pos < t->len && entry_cmp(t, &t->v[pos], key, id) == 0)
		return pos;
	return t->len;
}

bool store_table_remove(struct store_table *t, const char *key, const char *id)
{
	size_t pos = store_table_find(t, key, id);
	if (pos == t->len)
		return false;
	memmove(&t->v[pos], &t->v[pos + 1], (t->len - pos - 1) * sizeof(*t->v));
	t->len--;
	return true;
}

void store_table_release(struct store_table *t)
{
	store_mem_free(t->v);
	t->v = NULL;
	t->len = 0;
	t->cap = 0;
}
