/**
 * ACR122U LED and buzzer: the "Bi-Color LED and Buzzer Control" pseudo-APDU of ACS's ACR122U API
 * (also what nfc-pcsc's ACR122Reader.led() sends; built here because led() has stray console.log):
 *
 *   FF 00 40 | P2: LED state control | 04 | T1 | T2 | repetitions | buzzer link
 *
 * P2 bits: 0 final red, 1 final green, 2 red mask (update), 3 green mask (update),
 *          4 initial red blink state, 5 initial green blink state, 6 red blink mask, 7 green blink mask.
 * T1 / T2: initial / toggle blinking state durations in 100 ms units. Buzzer link: 00 off,
 * 01 during T1, 02 during T2, 03 during both. The reader answers 90 <LED state>.
 *
 * It goes through SCardControl (IOCTL_CCID_ESCAPE, SCARD_CTL_CODE(1) = 0x42000001 on Linux). The
 * CCID driver refuses escape commands unless the reader's entry in the driver's Info.plist
 * (/usr/lib/pcsc/drivers/ifd-ccid.bundle/Contents/Info.plist, or /etc/libccid_Info.plist) has
 *   <key>ifdDriverOptions</key> <string>0x0001</string>
 * (DRIVER_OPTION_CCID_EXCHANGE_AUTHORIZED), and pcscd restarted. Without it SCardControl fails and the
 * feedback is silently skipped: the payment result never depends on it.
 */

export type FeedbackOutcome = "approved" | "declined";

/** Green LED (blink then stay green) and one beep of 300 ms. */
const APPROVED = { led: 0b1010_1110, t1: 0x03, t2: 0x01, repetitions: 0x01, buzzer: 0x01 } as const;
/** Red LED blinking twice (then red) with a 200 ms beep on each blink. */
const DECLINED = { led: 0b0101_1101, t1: 0x02, t2: 0x02, repetitions: 0x02, buzzer: 0x01 } as const;

export function acr122FeedbackCommand(outcome: FeedbackOutcome): Uint8Array {
  const p = outcome === "approved" ? APPROVED : DECLINED;
  return Uint8Array.of(0xff, 0x00, 0x40, p.led, 0x04, p.t1, p.t2, p.repetitions, p.buzzer);
}

/** Readers that speak the ACR122U pseudo-APDUs (nfc-pcsc also gives ACR1252U its ACR122 class). */
export function isAcr122Name(name: string): boolean {
  return /acr122/i.test(name);
}
