#include "config.h"

#include "brokerstate.h"

void brokerstate_init(struct brokerstate *s, uint64_t grace_ms)
{
	s->grace_ms = grace_ms;
	atomic_init(&s->down_since_ms, 0);
}

void brokerstate_down(struct brokerstate *s, uint64_t now_ms)
{
	uint_fast64_t none = 0;

	/* 0 means "up": a clock reading of 0 still counts as down. */
	if (now_ms == 0)
		now_ms = 1;
	atomic_compare_exchange_strong(&s->down_since_ms, &none, now_ms);
}

void brokerstate_up(struct brokerstate *s)
{
	atomic_store(&s->down_since_ms, 0);
}

uint64_t brokerstate_down_for_ms(struct brokerstate *s, uint64_t now_ms)
{
	uint64_t since = atomic_load(&s->down_since_ms);

	if (since == 0)
		return 0;
	/* Down at this very millisecond still counts as down. */
	return now_ms > since ? now_ms - since : 1;
}

bool brokerstate_known_down(struct brokerstate *s, uint64_t now_ms)
{
	uint64_t since = atomic_load(&s->down_since_ms);

	return since != 0 && (now_ms > since ? now_ms - since : 0) >= s->grace_ms;
}
