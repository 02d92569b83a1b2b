#include "config.h"

#include "kstats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* Whether any broker connection is up, from the statistics' "brokers". */
static bool kstats_brokers_up(struct json_object *root)
{
	struct json_object *brokers, *state;

	if (!json_object_object_get_ex(root, "brokers", &brokers) ||
	    !json_object_is_type(brokers, json_type_object))
		return false;
	json_object_object_foreach(brokers, name, b)
	{
		(void)name;
		/* A state that is not a string (null, say) is not UP. */
		if (json_object_object_get_ex(b, "state", &state) &&
		    json_object_is_type(state, json_type_string) &&
		    strcmp(json_object_get_string(state), "UP") == 0)
			return true;
	}
	return false;
}

static int64_t kstats_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

/* The lag inputs of each partition: the high watermark of the last fetch
 * (frozen while the partition is paused, which is why lag.c also asks the
 * broker), the offset stored after the last PostgreSQL commit, and failing
 * those, the offset committed to Kafka or the next one read. */
static void kstats_partitions(struct json_object *root, const char *topic,
			      kstats_partition_fn each, void *arg)
{
	static const char *const fallbacks[] = { "committed_offset", "app_offset", "next_offset" };
	struct json_object *topics, *t, *parts;

	if (!json_object_object_get_ex(root, "topics", &topics) ||
	    !json_object_object_get_ex(topics, topic, &t) ||
	    !json_object_object_get_ex(t, "partitions", &parts) ||
	    !json_object_is_type(parts, json_type_object))
		return;
	json_object_object_foreach(parts, key, part)
	{
		struct kstats_partition kp = { .fallback = -1 };
		char *end;
		long p = strtol(key, &end, 10);

		if (end == key || *end || p < 0 || p > INT32_MAX)
			continue; /* "-1" is librdkafka's unassigned partition */
		for (size_t i = 0; kp.fallback < 0 && i < sizeof(fallbacks) / sizeof(fallbacks[0]);
		     i++)
			kp.fallback = kstats_int(part, fallbacks[i]);
		kp.partition = (int32_t)p;
		kp.hi_offset = kstats_int(part, "hi_offset");
		kp.stored_offset = kstats_int(part, "stored_offset");
		each(arg, &kp);
	}
}

int kstats_parse(const char *json, size_t len, const char *topic, bool *brokers_up,
		 kstats_partition_fn each, void *arg)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *root;

	if (!tok)
		return -ENOMEM;
	root = len <= INT32_MAX ? json_tokener_parse_ex(tok, json, (int)len) : NULL;
	json_tokener_free(tok);
	if (!root)
		return -EBADMSG;
	*brokers_up = kstats_brokers_up(root);
	kstats_partitions(root, topic, each, arg);
	json_object_put(root);
	return 0;
}
