/* store_time: Docker's timestamps (Go's RFC3339Nano in UTC) from and to nanoseconds since the epoch, without the C library's time zone machinery. */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

#define NS_PER_SEC INT64_C(1000000000)

/* Howard Hinnant's days_from_civil / civil_from_days, for dates from 1970 on. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = y / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t days, int *y, int *m, int *d)
{
	int64_t z = days + 719468;
	int64_t era = z / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

int store_time_format(int64_t unix_ns, char out[STORE_TIME_MAX])
{
	if (unix_ns < 0)
		return STORE_E_INVALID;
	int64_t secs = unix_ns / NS_PER_SEC, frac = unix_ns % NS_PER_SEC;
	int64_t days = secs / 86400, rem = secs % 86400;
	int y, m, d;
	civil_from_days(days, &y, &m, &d);
	int n = snprintf(out, STORE_TIME_MAX, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d,
			 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
	if (frac != 0) {
		char digits[11];
		snprintf(digits, sizeof(digits), ".%09d", (int)frac);
		size_t len = strlen(digits);
		while (digits[len - 1] == '0')
			digits[--len] = '\0';
		memcpy(out + n, digits, len);
		n += (int)len;
	}
	out[n] = 'Z';
	out[n + 1] = '\0';
	return 0;
}

/* Reads exactly count decimal digits at s. Returns -1 when one is not a digit. */
static int64_t digits(const char *s, size_t count)
{
	int64_t v = 0;
	for (size_t i = 0; i < count; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Reads the fraction after the seconds up to "Z"; *end is the "Z". */
static int64_t fraction(const char *s, const char **end)
{
	int64_t ns = 0, scale = NS_PER_SEC;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9' && scale > 1) {
			scale /= 10;
			ns += (*s - '0') * scale;
			s++;
		}
	}
	*end = s;
	return ns;
}

int store_time_parse(const char *s, int64_t *unix_ns)
{
	static const char shape[] = "0000-00-00T00:00:00";
	size_t n = strlen(shape);
	if (strlen(s) <= n || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':')
		return STORE_E_INVALID;
	int64_t y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
	int64_t h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
	if (y < 1970 || y > 2262 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || mi < 0 ||
	    sec < 0)
		return STORE_E_INVALID;
	const char *end;
	int64_t frac = fraction(s + n, &end);
	if (end[0] != 'Z' || end[1] != '\0')
		return STORE_E_INVALID;
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	if (secs > (INT64_MAX - frac) / NS_PER_SEC)
		return STORE_E_INVALID;
	int64_t ns = secs * NS_PER_SEC + frac;
	/* Only the canonical spelling: the round trip catches 30 February, 24:00,
	 * a trailing zero in the fraction and an empty fraction alike. */
	char canon[STORE_TIME_MAX];
	if (store_time_format(ns, canon) != 0 || strcmp(canon, s) != 0)
		return STORE_E_INVALID;
	*unix_ns = ns;
	return 0;
}
