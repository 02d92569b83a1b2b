/* brokerstate: whether the gateway's producer is *known* to have no Kafka
 * broker, so that a PUT can be answered 503 at once instead of after the
 * whole publish timeout. "Known" means: every broker has been down (as
 * librdkafka's error callback or a failed metadata request said) for at
 * least a grace period, with no sign of life since (a metadata request
 * that succeeded, a delivery report that said the broker has a message).
 * The grace is there so that a blip (a broker restarting, a leader moving)
 * never refuses traffic that would have been confirmed a moment later.
 * Thread-safe (lock-free). Times are passed in (monotonic milliseconds) so
 * that the rule can be tested without a clock. */
#ifndef PATIENTS_GATEWAY_BROKERSTATE_H
#define PATIENTS_GATEWAY_BROKERSTATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct brokerstate {
	uint64_t grace_ms;
	atomic_uint_fast64_t down_since_ms; /* 0: not down (or never seen down) */
};

void brokerstate_init(struct brokerstate *s, uint64_t grace_ms);

/* Every broker is down now: the first such report starts the clock, later
 * ones keep it. */
void brokerstate_down(struct brokerstate *s, uint64_t now_ms);

/* A broker answered: the clock stops. */
void brokerstate_up(struct brokerstate *s);

/* True when the brokers have been down for at least the grace period. */
bool brokerstate_known_down(struct brokerstate *s, uint64_t now_ms);

/* Milliseconds since the brokers went down, 0 when they are not. */
uint64_t brokerstate_down_for_ms(struct brokerstate *s, uint64_t now_ms);

#endif
