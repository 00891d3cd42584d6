// Small progressive enhancements: every page works without this file.
"use strict";
const RESEND_AFTER_MS = 5000;
document.addEventListener("DOMContentLoaded", () => {
  // A refused form comes back with its error: move there, so that it is seen on a long page
  // (the account page) and read out by a screen reader, not left below the fold.
  const refusal = document.querySelector(".alert[role=alert]");
  if (refusal) {
    refusal.setAttribute("tabindex", "-1");
    refusal.focus();
  }
  // A form is sent once per press. A double click would send it twice, and the page the
  // browser shows is the answer to the second sending, which for an action done once (new
  // recovery codes, a code used up by the first) is a refusal hiding what the first did.
  // Another press a few seconds later goes through, should the first sending be lost.
  for (const form of document.querySelectorAll("form[method=post]")) {
    form.addEventListener("submit", (event) => {
      const last = Number(form.dataset.sentAt || 0);
      if (Date.now() - last < RESEND_AFTER_MS) event.preventDefault();
      else form.dataset.sentAt = String(Date.now());
    });
  }
  // A page brought back by the Back button keeps its state: its forms may be sent again.
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    for (const form of document.querySelectorAll("form[data-sent-at]")) delete form.dataset.sentAt;
  });
  // Show / hide password.
  for (const input of document.querySelectorAll("input[type=password]")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "toggle secondary";
    button.textContent = "Show password";
    button.setAttribute("aria-controls", input.id);
    button.addEventListener("click", () => {
      const hidden = input.type === "password";
      input.type = hidden ? "text" : "password";
      button.textContent = hidden ? "Hide password" : "Show password";
    });
    input.insertAdjacentElement("afterend", button);
    // Caps Lock warning.
    const caps = document.createElement("p");
    caps.className = "caps";
    caps.setAttribute("aria-live", "polite");
    button.insertAdjacentElement("afterend", caps);
    input.addEventListener("keyup", (event) => {
      const on = event.getModifierState && event.getModifierState("CapsLock");
      caps.textContent = on ? "Caps Lock is on." : "";
    });
  }
  // A code we just texted, filled in when the phone's browser reads it from the text (WebOTP:
  // Chrome on Android). Only a text whose last line names this host qualifies, so a look-alike
  // site gets nothing; the customer still presses the button.
  const texted = document.querySelector("input[data-texted-code]");
  if (texted && "OTPCredential" in window) {
    const stop = new AbortController();
    texted.form?.addEventListener("submit", () => stop.abort());
    navigator.credentials
      .get({ otp: { transport: ["sms"] }, signal: stop.signal })
      .then((otp) => {
        if (otp && otp.code && !texted.value) texted.value = otp.code;
      })
      .catch(() => {}); // not offered, declined or given up: the code is typed instead
  }
  // Countdown on locks and cool-downs. At zero the whole sentence changes ("You can try again
  // now."), as "in now" reads wrong.
  for (const element of document.querySelectorAll("[data-countdown]")) {
    let left = parseInt(element.dataset.countdown, 10);
    if (!(left > 0)) continue;
    const sentence = element.closest("[data-countdown-done]");
    const timer = setInterval(() => {
      left -= 1;
      if (left <= 0) {
        clearInterval(timer);
        if (sentence) sentence.textContent = sentence.dataset.countdownDone;
        else element.textContent = "now";
        return;
      }
      const minutes = Math.floor(left / 60), seconds = left % 60;
      element.textContent = minutes ? `${minutes} min ${seconds} s` : `${seconds} s`;
    }, 1000);
  }
});
