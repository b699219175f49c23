/*
 * Deep sleep and the wake cause on the ESP32: the host functions behind
 * src/platform/moddable/deep-sleep.ts, linked into the firmware by manifest_esp32.json.
 *
 * Written against ESP-IDF v6.0 (the version the Moddable SDK's ESP32 build expects) and
 * v5.x: esp_sleep.h (components/esp_hw_support/include), esp_system.h
 * (components/esp_system/include), esp_wifi.h (components/esp_wifi/include).
 */
#include <stdint.h>

#include "xsmc.h"

#include "esp_err.h"
#include "esp_idf_version.h"
#include "esp_sleep.h"
#include "esp_system.h"
#include "esp_wifi.h"

/* 2^53 - 1: the largest whole number of microseconds a double holds exactly. */
#define MAX_SLEEP_US 9007199254740991.0

/*
 * xs_xsmqtt_deep_sleep(us): deep sleep for `us` whole microseconds, 1 to 2^53 - 1, then a
 * boot from the start. Throws RangeError for any other argument, and when the RTC timer
 * cannot wait that long; does not return otherwise.
 */
void xs_xsmqtt_deep_sleep(xsMachine *the)
{
	double us;
	esp_err_t err;

	if (xsmcArgc < 1)
		xsRangeError("deep sleep: no duration");
	us = xsmcToNumber(xsArg(0));
	/* the range first, so that the conversion to uint64_t below is defined */
	if (!(us >= 1) || (us > MAX_SLEEP_US) || (us != (double)(uint64_t)us))
		xsRangeError("deep sleep: the duration must be a whole number of microseconds from 1 to 2^53 - 1");

	/* never sleep without a way to wake up: the timer must accept the duration */
	err = esp_sleep_enable_timer_wakeup((uint64_t)us);
	if (err != ESP_OK)
		xsRangeError("deep sleep: the RTC timer refused the duration (esp_sleep_enable_timer_wakeup: %d)", (int)err);

	/* ESP-IDF's sleep modes guide: stop Wi-Fi before deep sleep. ESP_ERR_WIFI_NOT_INIT when it never started: nothing to stop. */
	(void)esp_wifi_stop();

	esp_deep_sleep_start();
}

/* True when the RTC timer caused the last wake from sleep. v6.0 deprecates the single-cause call for a bitmap. */
static int wokeByTimer(void)
{
#if ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(6, 0, 0)
	return (esp_sleep_get_wakeup_causes() & ((uint32_t)1 << ESP_SLEEP_WAKEUP_TIMER)) != 0;
#else
	return esp_sleep_get_wakeup_cause() == ESP_SLEEP_WAKEUP_TIMER;
#endif
}

/*
 * xs_xsmqtt_wake_cause(): why this boot happened, as the app's WakeReason: "timer" after a
 * deep sleep ended by the RTC timer, "power-on" for a power-on or the reset pin, "other"
 * for anything else (software restart, panic, watchdog, brownout, another wake source).
 */
void xs_xsmqtt_wake_cause(xsMachine *the)
{
	const char *cause = "other";

	switch (esp_reset_reason()) {
	case ESP_RST_POWERON:
	case ESP_RST_EXT:
		cause = "power-on";
		break;
	case ESP_RST_DEEPSLEEP:
		if (wokeByTimer())
			cause = "timer";
		break;
	default:
		break;
	}
	xsmcSetString(xsResult, (char *)cause);
}
