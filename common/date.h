/* date: the calendar, in one place. Dates of the form YYYY-MM-DD (a
 * patient's birthdate, the day a batch was received), today in UTC, and
 * RFC 3339 instants (the worker's --from-time). Pure functions but for
 * date_today_utc, which reads the clock. */
#ifndef PATIENTS_DATE_H
#define PATIENTS_DATE_H

#include <stddef.h>
#include <stdint.h>

/* A day of the Gregorian calendar; also how "today" is passed to the
 * validation, so that tests (and a replay judged by the day its batch was
 * received) do not depend on the clock. */
struct date {
	int year, month, day;
};

/* Today in UTC. */
struct date date_today_utc(void);

/* Reads s[0..len) as a date of exactly the form YYYY-MM-DD (ASCII digits).
 * Returns 0 with *out set; -EINVAL when the form is wrong; -ERANGE when it
 * is not a day of the Gregorian calendar (2023-02-29, 2023-04-31). */
int date_parse(const char *s, size_t len, struct date *out);

/* <0, 0 or >0 as a is before, the same day as or after b. */
int date_cmp(struct date a, struct date b);

/* Days in month (1..12) of year. */
int date_days_in_month(int year, int month);

/* Reads an RFC 3339 instant ("2026-11-24T10:00:00Z",
 * "2026-11-24T10:00:00.5+01:00": a real calendar date and time, seconds up
 * to 60 for a leap second, a fraction of any length, Z or a +-HH:MM offset)
 * as milliseconds since the epoch. Returns 0 with *ms, or -EINVAL. */
int date_parse_rfc3339_ms(const char *s, int64_t *ms);

#endif
