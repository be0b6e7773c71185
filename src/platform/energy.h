/*
 * energy.h - the energy sensor layer: finds one energy or power sensor under a root and turns
 * it into a monotonic energy total in µJ. It does not model power and does not know about
 * domains or frequencies.
 *
 * Sensors, tried in this order (the first one found is used; layouts in docs/platform-linux.md):
 *   rapl           sys/class/powercap/intel-rapl:N/energy_uj (µJ counter, wraps at
 *                  max_energy_range_uj); "psys" alone when present, else every package zone
 *   ina3221-iio    Jetson, JetPack 4: sys/bus/i2c/drivers/ina3221x/ * /iio:device* /
 *                  rail_name_K + in_powerK_input (mW)
 *   ina3221-hwmon  Jetson, JetPack 5: sys/bus/i2c/drivers/ina3221/ * /hwmon/hwmon* /
 *                  inK_label + inK_input (mV) x currK_input (mA)
 *   ina231         Odroid-XU3: sys/bus/i2c/drivers/INA231/ *-00{40,41,44,45}/sensor_W (W text)
 *   hwmon          sys/class/hwmon/hwmon* /power1_input (µW), or in1_input x curr1_input for
 *                  ina2xx chips
 * Jetson sensors count the VDD_IN rail (module input) when it exists, else the sum of rails.
 *
 * Power sensors are sampled on every read and integrated with the trapezoid rule over the
 * caller's clock (now_ns), so energy is exact for power that changes linearly between reads.
 *
 * Thread-safety: dynrt__energy_read may be called from several threads (one lock inside).
 * Errors name the file and quote its content (garbage, zero power, counter above its range).
 */
#ifndef DYNRT_ENERGY_H
#define DYNRT_ENERGY_H

#include <stdint.h>

#include "core/core.h"

#define DYNRT_ENERGY_MAX_RAILS 16

typedef struct dynrt__energy dynrt__energy;

/* Finds a sensor under root ("/" for the running system) and takes the first sample at
 * now_ns. DYNRT_ERR_UNSUPPORTED (message says what was looked for, and why a present sensor
 * was unusable) when there is none. Errors of the first sample do not fail the open: they
 * are returned by the first read instead (INA231 needs ~2 s after enabling). */
dynrt_status dynrt__energy_open(const char *root, uint64_t now_ns, dynrt__energy **out,
                                dynrt_err *err);
/* Energy since open in µJ, monotonic. On error the total is unchanged and the next read
 * integrates from the last good sample. */
dynrt_status dynrt__energy_read(dynrt__energy *e, uint64_t now_ns, uint64_t *uj, dynrt_err *err);
/* Last sampled power in W (power sensors), or the average since the previous sample
 * (counters); 0 before two good samples. */
double dynrt__energy_last_power(dynrt__energy *e);
/* "rapl", "ina3221-iio", "ina3221-hwmon", "ina231" or "hwmon". */
const char *dynrt__energy_kind(const dynrt__energy *e);
/* Rails counted in the total, e.g. "VDD_IN" or "package-0+package-1". */
const char *dynrt__energy_rails(const dynrt__energy *e);
/* Undoes what open changed (an INA231 that was disabled is disabled again). NULL: no-op. */
void dynrt__energy_close(dynrt__energy *e);

#endif /* DYNRT_ENERGY_H */
