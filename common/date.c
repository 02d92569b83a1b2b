#include "config.h"

#include "date.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

struct date date_today_utc(void)
{
	struct date d = { 0, 0, 0 };
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm)) {
		d.year = tm.tm_year + 1900;
		d.month = tm.tm_mon + 1;
		d.day = tm.tm_mday;
	}
	return d;
}

int date_days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	if (month < 1 || month > 12)
		return 0;
	return month == 2 && leap ? 29 : days[month - 1];
}

/* n ASCII digits at s as a number, or -1. */
static int date_digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int date_parse(const char *s, size_t len, struct date *out)
{
	int y, m, d;

	/* sscanf would take "2023-1-01", " 2023-01-01" and "+023-01-01". */
	if (len != 10 || s[4] != '-' || s[7] != '-')
		return -EINVAL;
	y = date_digits(s, 4);
	m = date_digits(s + 5, 2);
	d = date_digits(s + 8, 2);
	if (y < 0 || m < 0 || d < 0)
		return -EINVAL;
	if (m < 1 || m > 12 || d < 1 || d > date_days_in_month(y, m))
		return -ERANGE;
	out->year = y;
	out->month = m;
	out->day = d;
	return 0;
}

int date_cmp(struct date a, struct date b)
{
	if (a.year != b.year)
		return a.year < b.year ? -1 : 1;
	if (a.month != b.month)
		return a.month < b.month ? -1 : 1;
	return (a.day > b.day) - (a.day < b.day);
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t date_days_from_epoch(int y, int m, int d)
{
	int64_t days = 0;

	for (int k = 1970; k < y; k++)
		days += 365 + (date_days_in_month(k, 2) == 29);
	for (int k = 1969; k >= y; k--)
		days -= 365 + (date_days_in_month(k, 2) == 29);
	for (int k = 1; k < m; k++)
		days += date_days_in_month(y, k);
	return days + d - 1;
}

int date_parse_rfc3339_ms(const char *s, int64_t *ms)
{
	struct date d;
	int hh, mi, ss, off = 0;
	int64_t frac = 0, t;
	const char *p;

	if (!s || strlen(s) < 20 || date_parse(s, 10, &d) < 0 || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return -EINVAL;
	hh = date_digits(s + 11, 2);
	mi = date_digits(s + 14, 2);
	ss = date_digits(s + 17, 2);
	if (hh < 0 || hh > 23 || mi < 0 || mi > 59 || ss < 0 || ss > 60)
		return -EINVAL;
	p = s + 19;
	if (*p == '.') {
		int64_t scale = 100;

		if (p[1] < '0' || p[1] > '9')
			return -EINVAL;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (*p - '0') * scale;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh = date_digits(p + 1, 2), om = date_digits(p + 4, 2);

		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return -EINVAL;
		off = (oh * 60 + om) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	t = date_days_from_epoch(d.year, d.month, d.day) * 86400 + hh * 3600 + mi * 60 + ss -
	    (int64_t)off * 60;
	*ms = t * 1000 + frac;
	return 0;
}
