#include "config.h"

#include "backoff.h"

#include <stdlib.h>

long backoff_ms(long long base_ms, long long cap_ms, unsigned attempts, unsigned *seed)
{
	long long d = base_ms;

	for (unsigned i = 1; i < attempts && d < cap_ms; i++)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	if (d < 1)
		return 0;
	return (long)(d / 2 + rand_r(seed) % (d / 2 + 1));
}
