#include "config.h"

#include "exitcode.h"

#include <errno.h>

int exitcode_for(int r)
{
	switch (r) {
	case 0:
		return EXITCODE_OK;
	case -ENOMEM:
	case -EAGAIN:
	case -EMFILE:
	case -ENFILE:
	case -EIO:
	case -EINTR:
		return EXITCODE_FAILURE;
	default:
		return EXITCODE_CONFIG;
	}
}
