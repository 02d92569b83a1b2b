#include "config.h"

#include "schedule.h"

#include <stdint.h>

bool schedule_room(size_t queued, size_t queued_bytes, struct schedule_limit lim)
{
	return queued == 0 || (queued < lim.jobs && queued_bytes < lim.bytes);
}

size_t schedule_choose(int current, bool pending, const size_t *backlog, size_t n)
{
	size_t best = 0, best_load = SIZE_MAX;

	if (current >= 0 && (size_t)current < n && pending)
		return (size_t)current;
	for (size_t i = 0; i < n && best_load > 0; i++) {
		if (backlog[i] < best_load) {
			best = i;
			best_load = backlog[i];
		}
	}
	return best;
}
