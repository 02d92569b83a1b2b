#include "config.h"

#include "lanes.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

int lanes_init(struct lanes *l, int32_t nparts, struct schedule_limit lim)
{
	int r;

	memset(l, 0, sizeof(*l));
	l->nparts = nparts;
	l->lim = lim;
	l->lane = calloc((size_t)nparts, sizeof(*l->lane));
	l->ready = calloc((size_t)nparts, sizeof(*l->ready));
	if (!l->lane || !l->ready) {
		r = -ENOMEM;
		goto fail_mem;
	}
	r = -pthread_mutex_init(&l->mu, NULL);
	if (r < 0)
		goto fail_mem;
	/* Timed waits (room, retry sleeps) on the monotonic clock. */
	r = -clock_cond_init(&l->work);
	if (r < 0)
		goto fail_mu;
	r = -clock_cond_init(&l->done);
	if (r < 0)
		goto fail_work;
	r = -clock_cond_init(&l->changed);
	if (r < 0)
		goto fail_done;
	atomic_store(&l->stopping, false);
	return 0;
fail_done:
	pthread_cond_destroy(&l->done);
fail_work:
	pthread_cond_destroy(&l->work);
fail_mu:
	pthread_mutex_destroy(&l->mu);
fail_mem:
	free(l->lane);
	free(l->ready);
	l->lane = NULL;
	l->ready = NULL;
	return r;
}

/* Takes lane p's head off its lane (with l->mu held). */
static struct lanes_node *lanes_pop(struct lanes *l, int32_t p)
{
	struct lanes_lane *ln = &l->lane[p];
	struct lanes_node *n = ln->head;

	ln->head = n->next;
	n->next = NULL;
	if (!ln->head) {
		/* Empty: out of the ready set, the last one taking its place. */
		int32_t last = l->ready[--l->nready];

		ln->tail = NULL;
		l->ready[ln->ready_at] = last;
		l->lane[last].ready_at = ln->ready_at;
	}
	l->queued--;
	l->queued_bytes -= n->bytes;
	return n;
}

/* Frees lane p's queued nodes, all but a head being worked on ahead (with
 * l->mu held). */
static void lanes_drop(struct lanes *l, int32_t p, void (*free_node)(struct lanes_node *, void *),
		       void *arg)
{
	struct lanes_lane *ln = &l->lane[p];

	if (ln->head && ln->head->ahead) {
		/* Keep the head; free what follows it. */
		struct lanes_node *n = ln->head->next;

		ln->head->next = NULL;
		ln->tail = ln->head;
		while (n) {
			struct lanes_node *next = n->next;

			l->queued--;
			l->queued_bytes -= n->bytes;
			free_node(n, arg);
			n = next;
		}
		return;
	}
	while (ln->head)
		free_node(lanes_pop(l, p), arg);
}

void lanes_destroy(struct lanes *l, void (*free_node)(struct lanes_node *, void *), void *arg)
{
	if (!l->lane)
		return;
	while (l->nready > 0) {
		int32_t p = l->ready[0];

		l->lane[p].head->ahead = false; /* no thread is left to end it */
		lanes_drop(l, p, free_node, arg);
	}
	pthread_cond_destroy(&l->changed);
	pthread_cond_destroy(&l->done);
	pthread_cond_destroy(&l->work);
	pthread_mutex_destroy(&l->mu);
	free(l->lane);
	free(l->ready);
	l->lane = NULL;
	l->ready = NULL;
}

void lanes_put(struct lanes *l, struct lanes_node *n)
{
	struct lanes_lane *ln = &l->lane[n->partition];

	n->next = NULL;
	n->ahead = false;
	n->worked = false;
	pthread_mutex_lock(&l->mu);
	n->seq = l->seq++;
	if (ln->tail) {
		ln->tail->next = n;
	} else {
		ln->head = n;
		ln->ready_at = l->nready;
		l->ready[l->nready++] = n->partition;
	}
	ln->tail = n;
	l->queued++;
	l->queued_bytes += n->bytes;
	pthread_cond_signal(&l->work);
	pthread_mutex_unlock(&l->mu);
}

/* The lane whose head lanes_take would give now: the oldest head of a lane
 * that is not busy and whose head is not being worked on ahead, also not
 * worked on already when unworked. -1 when there is none. Oldest first
 * keeps the order of arrival across partitions, as one queue did: no
 * partition waits behind another's backlog. With l->mu held. */
static int32_t lanes_pick(const struct lanes *l, bool unworked)
{
	int32_t best = -1;
	uint64_t best_seq = UINT64_MAX;

	for (size_t i = 0; i < l->nready; i++) {
		int32_t p = l->ready[i];
		const struct lanes_lane *ln = &l->lane[p];

		if (ln->busy || ln->head->ahead || (unworked && ln->head->worked))
			continue;
		if (ln->head->seq < best_seq) {
			best = p;
			best_seq = ln->head->seq;
		}
	}
	return best;
}

struct lanes_node *lanes_take(struct lanes *l)
{
	struct lanes_node *n = NULL;
	int32_t p = -1;

	pthread_mutex_lock(&l->mu);
	/* stopping changes under l->mu only. */
	while (!atomic_load(&l->stopping) && (p = lanes_pick(l, false)) < 0)
		pthread_cond_wait(&l->work, &l->mu);
	if (p >= 0 && !atomic_load(&l->stopping)) {
		n = lanes_pop(l, p);
		l->lane[p].busy = true;
		pthread_cond_broadcast(&l->done); /* room for the next one */
	}
	pthread_mutex_unlock(&l->mu);
	return n;
}

void lanes_finish(struct lanes *l, int32_t partition)
{
	pthread_mutex_lock(&l->mu);
	l->lane[partition].busy = false;
	/* Its next node may be taken now, by anyone. */
	pthread_cond_broadcast(&l->work);
	pthread_cond_broadcast(&l->done);
	pthread_mutex_unlock(&l->mu);
}

struct lanes_node *lanes_ahead_begin(struct lanes *l, int32_t mine)
{
	struct lanes_node *n = NULL;
	int32_t p;

	pthread_mutex_lock(&l->mu);
	if (atomic_load(&l->stopping))
		goto out;
	n = l->lane[mine].head;
	if (!n || n->ahead || n->worked) {
		p = lanes_pick(l, true);
		n = p >= 0 ? l->lane[p].head : NULL;
	}
	if (n)
		n->ahead = true;
out:
	pthread_mutex_unlock(&l->mu);
	return n;
}

void lanes_ahead_end(struct lanes *l, struct lanes_node *n)
{
	pthread_mutex_lock(&l->mu);
	n->ahead = false;
	n->worked = true;
	pthread_cond_broadcast(&l->work);
	pthread_cond_broadcast(&l->done); /* lanes_forget may wait for it */
	pthread_mutex_unlock(&l->mu);
}

bool lanes_has_room(struct lanes *l)
{
	bool room;

	pthread_mutex_lock(&l->mu);
	room = schedule_room(l->queued, l->queued_bytes, l->lim);
	pthread_mutex_unlock(&l->mu);
	return room;
}

bool lanes_wait_room(struct lanes *l, int timeout_ms)
{
	struct timespec deadline = clock_deadline_in(timeout_ms);
	bool room;

	pthread_mutex_lock(&l->mu);
	while (!schedule_room(l->queued, l->queued_bytes, l->lim) && !atomic_load(&l->stopping))
		if (pthread_cond_timedwait(&l->done, &l->mu, &deadline) == ETIMEDOUT)
			break;
	room = schedule_room(l->queued, l->queued_bytes, l->lim);
	pthread_mutex_unlock(&l->mu);
	return room;
}

void lanes_forget(struct lanes *l, int32_t partition,
		  void (*free_node)(struct lanes_node *, void *), void *arg)
{
	struct lanes_lane *ln = &l->lane[partition];

	pthread_mutex_lock(&l->mu);
	/* A node of it waiting to retry wakes up and sees that it is wanted
	 * no more (the caller changed that first). One being applied, or
	 * worked on ahead, finishes first. */
	pthread_cond_broadcast(&l->changed);
	lanes_drop(l, partition, free_node, arg);
	while (ln->busy || ln->head) {
		pthread_cond_wait(&l->done, &l->mu);
		lanes_drop(l, partition, free_node, arg);
	}
	pthread_mutex_unlock(&l->mu);
}

bool lanes_sleep(struct lanes *l, long ms, bool (*still)(void *), void *arg)
{
	struct timespec deadline = clock_deadline_in(ms);
	bool r;

	pthread_mutex_lock(&l->mu);
	while (!atomic_load(&l->stopping) && still(arg))
		if (pthread_cond_timedwait(&l->changed, &l->mu, &deadline) == ETIMEDOUT)
			break;
	r = still(arg);
	pthread_mutex_unlock(&l->mu);
	return r;
}

void lanes_stop(struct lanes *l)
{
	pthread_mutex_lock(&l->mu);
	atomic_store(&l->stopping, true);
	pthread_cond_broadcast(&l->work);
	pthread_cond_broadcast(&l->done);
	pthread_cond_broadcast(&l->changed);
	pthread_mutex_unlock(&l->mu);
}

bool lanes_stopping(const struct lanes *l)
{
	return atomic_load(&l->stopping);
}
