/* lanes: the batches polled and not yet applied, one lane (a FIFO) per
 * partition, shared by every applier. A free applier takes the oldest batch
 * at the head of a lane that no other applier is applying, so a partition's
 * batches are applied in order and one at a time, while any free applier
 * can take any other partition's next batch. A partition is not tied to an
 * applier: tying it to the one that had its last batch left an applier
 * idle while the other's queue held batches of other partitions (measured:
 * a third of each applier's time at 200k patients, and 84 against 116
 * batches with deeper queues).
 *
 * The consumer's polling thread puts; appliers take, work ahead and finish.
 * Nodes are embedded in the caller's jobs (lanes_node as a member); a node
 * belongs to the lanes from lanes_put until lanes_take returns it, and to
 * the caller again after that. */
#ifndef PATIENTS_LANES_H
#define PATIENTS_LANES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schedule.h"

struct lanes_node {
	struct lanes_node *next;
	uint64_t seq;	   /* arrival order (lanes_put) */
	int32_t partition; /* 0..nparts-1 */
	size_t bytes;	   /* counted against the byte limit */
	bool ahead;	   /* an applier is working on it ahead, still queued */
	bool worked;	   /* that work is done */
};

struct lanes_lane {
	struct lanes_node *head, *tail;
	bool busy;	 /* an applier holds a node of it (taken, not finished) */
	size_t ready_at; /* its index in lanes.ready while it has nodes */
};

struct lanes {
	pthread_mutex_t mu;
	pthread_cond_t work;	/* a node arrived, a lane came free, work ahead ended */
	pthread_cond_t done;	/* a node was taken or finished, work ahead ended */
	pthread_cond_t changed; /* lanes_forget or lanes_stop: wake up sleepers */
	struct lanes_lane *lane; /* nparts */
	int32_t *ready;		 /* the partitions with queued nodes, nready of them */
	size_t nready;
	int32_t nparts;
	size_t queued, queued_bytes;
	uint64_t seq;
	struct schedule_limit lim;
	atomic_bool stopping;
};

/* Sets up nparts empty lanes; lim bounds what may be queued over all of them
 * (schedule_room). Returns 0 or -errno. */
int lanes_init(struct lanes *l, int32_t nparts, struct schedule_limit lim);

/* Frees every queued node with free_node(node, arg), then the lanes. Only
 * once no thread uses them. Nothing to do for lanes zeroed, or whose
 * lanes_init failed. */
void lanes_destroy(struct lanes *l, void (*free_node)(struct lanes_node *, void *), void *arg);

/* Appends n (partition and bytes set by the caller) to its partition's lane
 * and wakes a taker. n belongs to the lanes until it is taken. */
void lanes_put(struct lanes *l, struct lanes_node *n);

/* Waits for a node to apply: the oldest at the head of a lane that is not
 * busy and whose head no one is working on ahead. Marks its lane busy until
 * lanes_finish. Returns the node (the caller's again), or NULL once stopping. */
struct lanes_node *lanes_take(struct lanes *l);

/* The node taken from partition's lane is done with: the lane may be taken
 * again. Wakes takers and lanes_forget. */
void lanes_finish(struct lanes *l, int32_t partition);

/* A node still queued that the caller (applying a node of mine) may work on
 * ahead of its turn, so that it is ready when taken: mine's next if it has
 * one, else the node lanes_take would give now; never one worked on already.
 * The node stays queued and is marked ahead (takers pass it by) until
 * lanes_ahead_end. Returns NULL when there is none, or when stopping. */
struct lanes_node *lanes_ahead_begin(struct lanes *l, int32_t mine);

/* The work ahead on n is over (and done): n may be taken. */
void lanes_ahead_end(struct lanes *l, struct lanes_node *n);

/* Whether one more node fits within the limit. */
bool lanes_has_room(struct lanes *l);

/* Waits up to timeout_ms for room. Returns whether there is. */
bool lanes_wait_room(struct lanes *l, int timeout_ms);

/* Drops partition's queued nodes (free_node(node, arg) for each), once no
 * applier holds one of its nodes and none is being worked on ahead: after
 * it returns, nothing of the partition is queued or being applied, unless
 * put again. Wakes lanes_sleep. */
void lanes_forget(struct lanes *l, int32_t partition,
		  void (*free_node)(struct lanes_node *, void *), void *arg);

/* Sleeps up to ms while still(arg) holds, checked under the lanes' lock at
 * each lanes_forget and lanes_stop. Returns still(arg) at the end. */
bool lanes_sleep(struct lanes *l, long ms, bool (*still)(void *), void *arg);

/* Wakes every taker and sleeper for good: lanes_take returns NULL from now
 * on. Idempotent. */
void lanes_stop(struct lanes *l);

/* Whether lanes_stop was called. */
bool lanes_stopping(const struct lanes *l);

#endif
