#include "config.h"

#include "kicker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define KICKER_INTERVAL_MS 50
#define KICKER_TIMEOUT_MS 1000

struct kicker {
	rd_kafka_t *rk;
	char *topic;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool wanted;
	bool stopping;
	int32_t partition;
};

static void *kicker_main(void *arg)
{
	struct kicker *k = arg;

	pthread_mutex_lock(&k->mu);
	for (;;) {
		int64_t lo, hi;
		int32_t p;

		while (!k->wanted && !k->stopping)
			pthread_cond_wait(&k->cv, &k->mu);
		if (k->stopping)
			break;
		p = k->partition;
		k->wanted = false;
		pthread_mutex_unlock(&k->mu);
		/* The answer does not matter: sending the request is the point. */
		(void)rd_kafka_query_watermark_offsets(k->rk, k->topic, p, &lo, &hi,
						       KICKER_TIMEOUT_MS);
		clock_sleep_ms(KICKER_INTERVAL_MS);
		pthread_mutex_lock(&k->mu);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

int kicker_start(struct kicker **out, rd_kafka_t *rk, const char *topic)
{
	struct kicker *k = calloc(1, sizeof(*k));
	int r;

	*out = NULL;
	if (!k || !(k->topic = strdup(topic))) {
		free(k);
		return -ENOMEM;
	}
	k->rk = rk;
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	r = pthread_create(&k->thread, NULL, kicker_main, k);
	if (r != 0) {
		pthread_cond_destroy(&k->cv);
		pthread_mutex_destroy(&k->mu);
		free(k->topic);
		free(k);
		return -r;
	}
	*out = k;
	return 0;
}

void kicker_kick(struct kicker *k, int32_t partition)
{
	pthread_mutex_lock(&k->mu);
	k->partition = partition;
	k->wanted = true;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
}

void kicker_stop(struct kicker *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	k->stopping = true;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->thread, NULL);
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->mu);
	free(k->topic);
	free(k);
}
