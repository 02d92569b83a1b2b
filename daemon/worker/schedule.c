#include "config.h"

#include "schedule.h"

#include <stdint.h>

bool schedule_room(size_t queued, size_t queued_bytes, struct schedule_limit lim)
{
	return queued == 0 || (queued < lim.jobs && queued_bytes < lim.bytes);
}
