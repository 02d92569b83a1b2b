/* settings: one declarative table of options per daemon. Each option may come
 * from a flag (getopt_long), an environment variable (PATIENTS_*) or its
 * default, in that order of precedence; errors name where the bad value came
 * from. */
#ifndef PATIENTS_SETTINGS_H
#define PATIENTS_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum setting_type {
	SETTING_STRING, /* char *, malloc'd (NULL when unset and no default) */
	SETTING_INT,    /* long long, within [min, max] */
	SETTING_FLAG,   /* bool; takes no argument; env accepts 1/0/true/false/yes/no */
	SETTING_LIST,   /* struct settings_list; the flag may repeat; env is ';'-separated */
};

struct settings_list {
	char **items; /* malloc'd strings */
	size_t count;
};

struct setting {
	const char *name;	/* long flag without "--" */
	int short_name;		/* single-letter flag, or 0 */
	enum setting_type type;
	const char *env;	/* environment variable, or NULL */
	const char *defval;	/* default as text, or NULL */
	long long min, max;	/* bounds for SETTING_INT */
	size_t offset;		/* offsetof() the field in the daemon's struct */
	const char *metavar;	/* e.g. "N", "HOST:PORT" (NULL for flags) */
	const char *help;	/* one line */
};

/* Fills cfg (a zeroed struct the table's offsets point into) from defaults,
 * then the environment, then argv. --help and --version are handled by the
 * caller: they are ordinary SETTING_FLAG entries.
 * Returns 0; -EINVAL with a message in err naming the flag or variable and
 * what is wrong; -ENOMEM. Positional arguments are refused. */
int settings_load(const struct setting *opts, size_t n, void *cfg, int argc,
		char **argv, char *err, size_t errsize);

/* Releases every SETTING_STRING and SETTING_LIST the table put into cfg. */
void settings_free(const struct setting *opts, size_t n, void *cfg);

/* Prints the option reference: flags, metavars, env variables, defaults. */
void settings_usage(FILE *out, const struct setting *opts, size_t n);

/* Splits "key=value" at the first '='. Returns 0 with pointers into a copy
 * the caller frees through *buf, or -EINVAL when there is no '=' or the key
 * is empty. */
int settings_split_kv(const char *item, char **buf, const char **key, const char **value);

#endif
