#include "config.h"

#include "settings.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SETTINGS_MAX 64

static void *settings_field(void *cfg, const struct setting *o)
{
	return (char *)cfg + o->offset;
}

static int settings_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int settings_list_add(struct settings_list *l, const char *item)
{
	char **items;
	char *copy = strdup(item);

	if (!copy)
		return -ENOMEM;
	items = realloc(l->items, (l->count + 1) * sizeof(*items));
	if (!items) {
		free(copy);
		return -ENOMEM;
	}
	items[l->count++] = copy;
	l->items = items;
	return 0;
}

static void settings_list_clear(struct settings_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = 0;
}

/* Applies one textual value; source names where it came from, for errors
 * ("--db-connections", "PATIENTS_DB_CONNECTIONS", "default"). A list value
 * from the environment or a default replaces; a flag appends. */
static int settings_apply(const struct setting *o, void *cfg, const char *value,
			const char *source, bool from_flag, char *err, size_t errsize)
{
	void *field = settings_field(cfg, o);

	switch (o->type) {
	case SETTING_STRING: {
		char *copy = strdup(value);
		if (!copy)
			return -ENOMEM;
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	case SETTING_INT: {
		char *end = NULL;
		long long v;

		errno = 0;
		v = strtoll(value, &end, 10);
		if (errno || end == value || *end != '\0') {
			snprintf(err, errsize, "%s: \"%s\" is not a whole number", source, value);
			return -EINVAL;
		}
		if (v < o->min || v > o->max) {
			snprintf(err, errsize, "%s: %lld is outside %lld..%lld", source, v, o->min,
				 o->max);
			return -EINVAL;
		}
		*(long long *)field = v;
		return 0;
	}
	case SETTING_FLAG:
		if (settings_parse_bool(value, (bool *)field) < 0) {
			snprintf(err, errsize, "%s: \"%s\" is not one of 1/0/true/false/yes/no",
				 source, value);
			return -EINVAL;
		}
		return 0;
	case SETTING_LIST: {
		struct settings_list *l = field;
		char *copy, *save = NULL;
		int r = 0;

		if (from_flag)
			return settings_list_add(l, value);
		settings_list_clear(l);
		copy = strdup(value);
		if (!copy)
			return -ENOMEM;
		for (char *tok = strtok_r(copy, ";", &save); tok && r == 0;
		     tok = strtok_r(NULL, ";", &save))
			if (*tok)
				r = settings_list_add(l, tok);
		free(copy);
		return r;
	}
	}
	return -EINVAL;
}

int settings_load(const struct setting *opts, size_t n, void *cfg, int argc,
		char **argv, char *err, size_t errsize)
{
	struct option longopts[SETTINGS_MAX + 1];
	char shortopts[SETTINGS_MAX * 2 + 2];
	size_t s = 0;
	int r, c, idx;

	if (n > SETTINGS_MAX) {
		snprintf(err, errsize, "too many options");
		return -EINVAL;
	}
	/* Defaults, then the environment. */
	for (size_t i = 0; i < n; i++) {
		const char *env = opts[i].env ? getenv(opts[i].env) : NULL;

		if (opts[i].defval) {
			r = settings_apply(&opts[i], cfg, opts[i].defval, "default", false, err,
					 errsize);
			if (r < 0)
				return r;
		}
		if (env && *env) {
			r = settings_apply(&opts[i], cfg, env, opts[i].env, false, err, errsize);
			if (r < 0)
				return r;
		}
	}

	shortopts[s++] = ':'; /* report a missing argument as ':' */
	for (size_t i = 0; i < n; i++) {
		longopts[i] = (struct option){
			.name = opts[i].name,
			.has_arg = opts[i].type == SETTING_FLAG ? no_argument : required_argument,
			.flag = NULL,
			.val = opts[i].short_name ? opts[i].short_name : 256 + (int)i,
		};
		if (opts[i].short_name) {
			shortopts[s++] = (char)opts[i].short_name;
			if (opts[i].type != SETTING_FLAG)
				shortopts[s++] = ':';
		}
	}
	longopts[n] = (struct option){ 0 };
	shortopts[s] = '\0';

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, &idx)) != -1) {
		const struct setting *o = NULL;
		char source[80];

		if (c == '?' || c == ':') {
			snprintf(err, errsize, "%s: %s", argv[optind - 1],
				 c == ':' ? "needs a value" : "unknown option (see --help)");
			return -EINVAL;
		}
		for (size_t i = 0; i < n && !o; i++)
			if ((opts[i].short_name && c == opts[i].short_name) || c == 256 + (int)i)
				o = &opts[i];
		if (!o)
			continue;
		snprintf(source, sizeof(source), "--%s", o->name);
		r = settings_apply(o, cfg, o->type == SETTING_FLAG ? "1" : optarg, source, true,
				 err, errsize);
		if (r < 0)
			return r;
	}
	if (optind < argc) {
		snprintf(err, errsize, "%s: unexpected argument (see --help)", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

void settings_free(const struct setting *opts, size_t n, void *cfg)
{
	for (size_t i = 0; i < n; i++) {
		void *field = settings_field(cfg, &opts[i]);

		if (opts[i].type == SETTING_STRING) {
			free(*(char **)field);
			*(char **)field = NULL;
		} else if (opts[i].type == SETTING_LIST) {
			settings_list_clear(field);
		}
	}
}

void settings_usage(FILE *out, const struct setting *opts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct setting *o = &opts[i];
		char flag[96];

		if (o->short_name)
			snprintf(flag, sizeof(flag), "-%c, --%s%s%s", o->short_name, o->name,
				 o->metavar ? " " : "", o->metavar ? o->metavar : "");
		else
			snprintf(flag, sizeof(flag), "    --%s%s%s", o->name, o->metavar ? " " : "",
				 o->metavar ? o->metavar : "");
		fprintf(out, "  %-34s %s\n", flag, o->help);
		if (o->env || o->defval)
			fprintf(out, "  %-34s %s%s%s%s%s\n", "", o->env ? "env " : "",
				o->env ? o->env : "", o->env && o->defval ? ", " : "",
				o->defval ? "default " : "", o->defval ? o->defval : "");
	}
}

int settings_split_kv(const char *item, char **buf, const char **key, const char **value)
{
	char *copy, *eq;

	*buf = NULL;
	eq = strchr(item, '=');
	if (!eq || eq == item)
		return -EINVAL;
	copy = strdup(item);
	if (!copy)
		return -ENOMEM;
	copy[eq - item] = '\0';
	*buf = copy;
	*key = copy;
	*value = copy + (eq - item) + 1;
	return 0;
}
