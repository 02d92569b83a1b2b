/* budget: a cap on the bytes of requests in flight (bodies being received
 * and messages waiting for Kafka's delivery report), so that the gateway's
 * memory is bounded by one number instead of connections x body size.
 * Thread-safe (lock-free): HTTP threads reserve, HTTP threads and the
 * publisher's poller release. */
#ifndef PATIENTS_GATEWAY_BUDGET_H
#define PATIENTS_GATEWAY_BUDGET_H

#include <stddef.h>

struct budget;

/* A budget of limit bytes. Returns 0, or -ENOMEM. */
int budget_new(struct budget **out, size_t limit);

/* Takes n bytes if they fit under the limit. Returns 0, or -ENOBUFS when
 * they do not (nothing is taken). */
int budget_reserve(struct budget *b, size_t n);

/* Takes n bytes even past the limit: for the few bytes an envelope adds to
 * a body that was already admitted. */
void budget_force(struct budget *b, size_t n);

/* Gives back n bytes taken before. */
void budget_release(struct budget *b, size_t n);

/* Bytes taken now. */
size_t budget_used(struct budget *b);

size_t budget_limit(struct budget *b);

/* NULL is a no-op. */
void budget_free(struct budget *b);

#endif
