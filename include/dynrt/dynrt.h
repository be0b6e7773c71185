/*
 * dynrt/dynrt.h - umbrella header: the whole public API of dynrt. Each header states the
 * ownership, thread-safety and errors of its functions; include this one or only those.
 */
#ifndef DYNRT_DYNRT_H
#define DYNRT_DYNRT_H

#include "dynrt/common.h"
#include "dynrt/pool.h"
#include "dynrt/engine.h"

#endif /* DYNRT_DYNRT_H */
