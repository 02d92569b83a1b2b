#include "config.h"

#include "budget.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

struct budget {
	size_t limit;
	atomic_size_t used;
};

int budget_new(struct budget **out, size_t limit)
{
	struct budget *b = calloc(1, sizeof(*b));

	*out = NULL;
	if (!b)
		return -ENOMEM;
	b->limit = limit;
	atomic_init(&b->used, 0);
	*out = b;
	return 0;
}

int budget_reserve(struct budget *b, size_t n)
{
	size_t used = atomic_load(&b->used);

	/* Compare and swap, so that two threads cannot both take the last
	 * bytes. */
	do {
		if (n > b->limit || used > b->limit - n)
			return -ENOBUFS;
	} while (!atomic_compare_exchange_weak(&b->used, &used, used + n));
	return 0;
}

void budget_force(struct budget *b, size_t n)
{
	atomic_fetch_add(&b->used, n);
}

void budget_release(struct budget *b, size_t n)
{
	atomic_fetch_sub(&b->used, n);
}

size_t budget_used(struct budget *b)
{
	return atomic_load(&b->used);
}

size_t budget_limit(struct budget *b)
{
	return b->limit;
}

void budget_free(struct budget *b)
{
	free(b);
}
