"""Words for the error codes of two-step verification and lost-device recovery (the rest of
the catalogue is in `catalogue.py`, which assembles them all into one)."""

from __future__ import annotations

from accessguard.domain.errors import CatalogueEntry, ErrorCode
from accessguard.domain.errors import catalogue_entry as _entry

TWO_FACTOR_ENTRIES: list[CatalogueEntry] = [
    _entry(
        ErrorCode.REAUTHENTICATION_REQUIRED,
        403,
        "Please enter your password again to continue.",
        "Type your password with the request; you signed in a while ago.",
        title="Password asked again",
        what_you_see="Setting up two-step verification asks for your password although you "
        "are signed in.",
        why="You signed in more than a few minutes ago. Adding an authenticator app or a phone "
        "decides who can sign in to your account from now on, so we make sure it is still you "
        "at the keyboard, and not someone who found your device unlocked.",
        what_to_do="Enter your password in the form and send it again. Forgot it? Sign out and "
        "use “Forgot password”.",
        keywords="password again re-enter confirm it's you set up two-step authenticator phone",
    ),
    _entry(
        ErrorCode.INVALID_MFA_CODE,
        401,
        "The verification code is not correct.",
        "Check the code and try again.",
        title="Verification code rejected",
        what_you_see="“The verification code is not correct”, with the attempts left.",
        why="The code does not match. Authenticator codes change every 30 seconds; SMS codes "
        "expire after a few minutes, and after a resend only the last two codes work.",
        what_to_do="Enter the current code from your authenticator app, or the code from one "
        "of your two newest SMS messages. If you lost your device, use a recovery code or open "
        "an account-recovery request.",
        keywords="code not working wrong code 2fa authenticator sms verification",
    ),
    _entry(
        ErrorCode.MFA_CODE_REUSED,
        401,
        "This code, or a newer one, was already used.",
        "Wait for your authenticator app to show a new code and enter that one.",
        title="Code already used",
        what_you_see="A message that the code was used before.",
        why="Each authenticator code is accepted once, and once a code is used the older ones "
        "stop working too, so a code seen by someone else cannot be used again.",
        what_to_do="Wait for the next code (at most 30 seconds) and enter it.",
        keywords="code already used reused 2fa authenticator",
    ),
    _entry(
        ErrorCode.RECOVERY_CODE_USED,
        401,
        "This recovery code was already used.",
        "Cross it off your list and enter another of your recovery codes.",
        title="Recovery code already used",
        what_you_see="A message that the recovery code was used before.",
        why="Each recovery code works once, so a code someone else saw cannot open your "
        "account again. The codes you have not used yet still work.",
        what_to_do="Enter another code from your list. Once you are signed in, create a new set "
        "of recovery codes on your account page; the old set then stops working.",
        keywords="recovery code already used backup code used lost phone 2fa",
    ),
    _entry(
        ErrorCode.RECOVERY_CODES_REPLACED,
        409,
        "New recovery codes were made a moment ago, so no other set was made.",
        "They were shown once, on the page that made them. If you did not save them, make a "
        "new set now.",
        title="Recovery codes made a moment ago",
        what_you_see="Asking for new recovery codes says that new ones were made a moment ago.",
        why="The form was sent twice (a double click, or a page reloaded), or another session "
        "made a set meanwhile. Only the newest set works, so a second set would have voided the "
        "one you may be writing down.",
        what_to_do="If you saved the codes shown a moment ago, nothing more is needed. If not, "
        "make a new set on your account page and save it before you leave the page.",
        keywords="recovery codes new set twice reload double click backup codes",
    ),
    _entry(
        ErrorCode.SECOND_FACTOR_REQUIRED,
        409,
        "Recovery codes need two-step verification to be turned on first.",
        "Add an authenticator app or a phone number on your account page; you get recovery "
        "codes with it.",
        title="Two-step verification is not turned on",
        what_you_see="A message that recovery codes need two-step verification.",
        why="Recovery codes stand in for your authenticator app or phone when you lose it, so "
        "they only exist while one of these is set up. They are deleted when the last one is "
        "removed.",
        what_to_do="On your account page, add an authenticator app (or a phone number). You "
        "receive recovery codes when you turn it on and can create new ones at any time.",
        keywords="recovery codes backup codes not available two-step 2fa not enabled",
    ),
    _entry(
        ErrorCode.TOTP_ALREADY_ENABLED,
        409,
        "An authenticator app is already set up for this account.",
        "To move it to a new phone, first remove it with a code from the app or a recovery "
        "code, then set up the new phone.",
        title="Authenticator app already set up",
        what_you_see="Setting up an authenticator app says one is set up already.",
        why="An account has one authenticator app at a time, so that an old phone cannot keep "
        "making codes after you moved to a new one.",
        what_to_do="On your account page, under two-step verification, remove the current app: "
        "enter your password and a code from the app, or one of your recovery codes if the "
        "phone is lost. Then set up the app on the new phone and save the new recovery codes.",
        keywords="authenticator already set up new phone move authenticator replace change app",
    ),
    _entry(
        ErrorCode.TOTP_NOT_SET_UP,
        409,
        "There is no authenticator app set-up to finish or remove.",
        "Open your account page to see what is set up now; to add an app, start the set-up "
        "again there.",
        title="No authenticator app set-up",
        what_you_see="Confirming or removing an authenticator app says there is none.",
        why="The set-up was not started, was replaced by a newer one, or the app was already "
        "removed, perhaps from another device or browser tab.",
        what_to_do="Open your account page to see what is set up now. To add an app, choose to "
        "set it up, scan the new QR code and enter the code the app shows.",
        keywords="authenticator not set up confirm code nothing to confirm remove app",
    ),
    _entry(
        ErrorCode.TOTP_CLOCK_DRIFT,
        401,
        "Your device's clock seems to be wrong, so its codes do not match.",
        "Set your phone's time to automatic, then enter a new code.",
        title="Device clock is wrong",
        what_you_see="A message that your device clock is off, with by how much.",
        why="Authenticator codes depend on the time. The code matches a time several minutes "
        "away from now, so the clock on the device that shows the codes is wrong.",
        what_to_do="Turn on automatic date and time on your phone (or sync time in the "
        "authenticator app's settings), then enter a fresh code.",
        keywords="clock time wrong code authenticator drift sync",
    ),
    _entry(
        ErrorCode.MFA_TOKEN_EXPIRED,
        401,
        "The sign-in took too long and has expired.",
        "Start again with your email and password.",
        title="Sign-in expired",
        what_you_see="A message that the sign-in expired.",
        why="After the password, the second step must be finished within a few minutes, and "
        "each "
        "sign-in attempt can be finished once.",
        what_to_do="Sign in again from the start.",
        keywords="expired sign-in too slow 2fa timeout",
    ),
    _entry(
        ErrorCode.MFA_TOKEN_INVALID,
        401,
        "This sign-in can no longer be finished.",
        "Start again with your email and password.",
        title="Sign-in can no longer be finished",
        what_you_see="A message that the sign-in can no longer be finished.",
        why="The second step of a sign-in works once, only in the browser or app where the "
        "password was entered, and ends after too many wrong codes, after a sign-out, or when "
        "the account is locked meanwhile.",
        what_to_do="Sign in again from the start, in one browser or app.",
        keywords="sign-in invalid start again 2fa second step another device",
    ),
    _entry(
        ErrorCode.MFA_METHOD_UNAVAILABLE,
        400,
        "This kind of code is not set up for your account.",
        "Verify another way instead: your authenticator app, a code by text message or one "
        "of your recovery codes, whichever your account offers.",
        title="Verification method not available",
        what_you_see="A message that the chosen kind of code is not set up.",
        why="Only the second factors you set up can finish a sign-in: your authenticator app, "
        "your phone number, or your recovery codes while some are left.",
        what_to_do="Pick one of the methods offered. If you can use none of them, open an "
        "account recovery request at /recover.",
        keywords="method not available authenticator sms recovery code choose",
    ),
    _entry(
        ErrorCode.SMS_RESEND_TOO_SOON,
        429,
        "A code was sent a moment ago.",
        "Wait for the code on its way, or ask again when the time shown has passed.",
        title="Code resent too soon",
        what_you_see="A countdown before another SMS code can be sent.",
        why="SMS messages can take a minute to arrive, and limiting resends protects your "
        "number from floods.",
        what_to_do="Wait for the message already on its way, or ask again when the countdown ends.",
        keywords="sms resend code not received wait",
    ),
    _entry(
        ErrorCode.SMS_DELIVERY_FAILED,
        502,
        "We could not send the SMS.",
        "Try again in a minute, or use another method such as your authenticator app.",
        title="SMS could not be sent",
        what_you_see="A message that the SMS was not sent.",
        why="The SMS provider refused or did not answer. This is on our side or the "
        "provider's, not yours.",
        what_to_do="Try again shortly, or choose another sign-in method. If it lasts, check "
        "the status page.",
        keywords="sms not received text message failed",
    ),
    _entry(
        ErrorCode.SMS_CODE_EXPIRED,
        401,
        "This SMS code no longer works.",
        "Ask for a new code and enter it within a few minutes.",
        title="SMS code expired or used up",
        what_you_see="A message that the SMS code no longer works.",
        why="Each SMS code works for a few minutes and after 5 wrong tries it stops working. "
        "When you asked for a new code, the one before it works too until it expires, and "
        "either one, once used, ends both.",
        what_to_do="Ask for a new code and type the one in the newest message. If you are "
        "signing in, you can also use your authenticator app or a recovery code.",
        keywords="sms code expired old code used up too many tries text message",
    ),
    _entry(
        ErrorCode.SMS_LIMIT_REACHED,
        429,
        "Too many SMS codes were asked for within a day.",
        "Try again when the time shown is up, at most a day after the first of these codes. "
        "Signing in meanwhile? Use your authenticator app or a recovery code if you have "
        "them, or a device you signed in with before.",
        title="Daily SMS limit reached",
        what_you_see="A message that no more SMS codes can be sent for now, with the time "
        "you can try again.",
        why="We send only a limited number of codes to one phone number and one account each "
        "day, so nobody can flood a phone with messages or run up costs through it. Codes "
        "for signing in from a new device, for each device you signed in with before, and "
        "for setting up or changing your phone while signed in are counted apart, so someone "
        "trying your password cannot use up the codes you need.",
        what_to_do="Wait until the time shown: the limit ends a day after the first of these "
        "codes at the latest. Meanwhile, enter a code from your authenticator app or one of "
        "your recovery codes instead, if you have them. To sign in, use a phone or computer you "
        "signed in with before: its codes are counted apart. Received codes you did not ask for? "
        "Someone may know your password: change it once you are signed in.",
        keywords="sms limit too many codes text messages daily limit phone setup change number",
    ),
    _entry(
        ErrorCode.SMS_NOT_SET_UP,
        409,
        "There is no phone number for text-message codes on your account.",
        "To get codes by text message, add your mobile number under “Text message (SMS)” on "
        "your account page, then enter the code we send to it.",
        title="No phone number set up",
        what_you_see="Asking for a code to your phone, or removing the phone, says there is "
        "no number.",
        why="No number is confirmed on your account: none was ever added (you may use an "
        "authenticator app instead), it was removed, perhaps from another device or browser "
        "tab, or the code sent to it was never entered.",
        what_to_do="Open your account page to see what is set up now. To use text-message "
        "codes, enter your mobile number with its country code under “Text message (SMS)”, "
        "then the code sent to it.",
        keywords="sms phone number not set up removed no number text message",
    ),
    _entry(
        ErrorCode.APP_CODE_REQUIRED,
        409,
        "Your account confirms phone changes with your authenticator app, not a text message.",
        "Enter the current code from your authenticator app instead. If you lost the app, use "
        "one of your recovery codes.",
        title="Use your authenticator app's code",
        what_you_see="Asking for a text-message code to change or remove your phone number is "
        "refused.",
        why="While an authenticator app is set up, it is the stronger proof that you are you: "
        "a text message can be taken over by someone who moves your number to their SIM card, "
        "so it cannot be the only proof for changing where codes go.",
        what_to_do="Open your authenticator app and type the 6-digit code it shows for this "
        "account into the form. Without the app, type one of your recovery codes; without "
        "either, open an account recovery request at /recover.",
        keywords="authenticator app code sms phone change remove text message instead",
    ),
    _entry(
        ErrorCode.PHONE_NUMBER_INVALID,
        422,
        "This phone number is incomplete, or cannot receive text messages.",
        "Enter your mobile number with its country code, for example +44 7700 900123.",
        title="Phone number not accepted",
        what_you_see="The phone number field is marked as not valid.",
        why="The number is incomplete, lacks its country code, holds letters, or belongs to "
        "a line that cannot receive text messages, such as a landline or a premium-rate "
        "number. We also send texts only to mobile numbers in the countries we serve.",
        what_to_do="Type your mobile number starting with + and the country code. Spaces, "
        "dashes and brackets are fine. If your number is in a country we do not send texts "
        "to, set up an authenticator app instead: it works anywhere, without a signal.",
        keywords="phone number invalid mobile number country code sms landline abroad",
    ),
    _entry(
        ErrorCode.RECOVERY_TOKEN_INVALID,
        400,
        "This cancel link is invalid, or the recovery request can no longer be cancelled.",
        "If you did not ask to recover your account, reset your password and contact support.",
        title="Recovery cancel link not working",
        what_you_see="The page opened from a recovery email says the cancel link does not work.",
        why="A cancel link works until the request is cancelled, rejected or carried out. It "
        "was already used, the request was already closed, or the link was cut short when "
        "copied.",
        what_to_do="Copy the link from the newest recovery email in full. If two-step "
        "verification was already removed and you did not ask for it, reset your password at "
        "once with “Forgot password”, set up two-step verification again and contact support.",
        keywords="cancel recovery link lost phone request not me cancel link expired",
    ),
    _entry(
        ErrorCode.RECOVERY_CASE_CLOSED,
        409,
        "This recovery request was already decided, cancelled or completed.",
        "Reload the list to see its current state.",
        title="Recovery request already closed",
        what_you_see="Support staff: approving or rejecting a recovery request is refused.",
        why="Someone else decided the request first, or its owner cancelled it from the "
        "email, or it was carried out after its waiting period.",
        what_to_do="Reload the list of recovery requests and read the request's current "
        "state and note.",
        keywords="support staff recovery request approve reject already decided cancelled",
    ),
    _entry(
        ErrorCode.NO_RECOVERY_REQUEST,
        409,
        "Your account has no recovery request that can still be cancelled.",
        "Reload your account page to see what became of the request.",
        title="No recovery request to cancel",
        what_you_see="Cancelling a recovery request on your account page is refused.",
        why="The request was already cancelled (from another tab, a device or the link in "
        "our email), rejected by support, or carried out after its waiting period.",
        what_to_do="Reload your account page. If two-step verification was removed and you "
        "did not ask for it, reset your password with “Forgot password”, set up two-step "
        "verification again and contact support.",
        keywords="cancel recovery request account page nothing to cancel already cancelled",
    ),
    _entry(
        ErrorCode.MFA_SESSION_REQUIRED,
        403,
        "This needs a sign-in with two-step verification.",
        "Turn on two-step verification on your account page if it is off, then sign out and "
        "sign in again with your password and a verification code.",
        title="Sign in with two-step verification",
        what_you_see="Support staff: the support tools are refused although you are signed in.",
        why="Support tools can remove the protection of a customer's account, so they only "
        "open for a session that was signed in with a second factor, never with a password "
        "alone.",
        what_to_do="Turn on two-step verification on your account page if it is off, sign "
        "out, and sign in again entering your verification code.",
        keywords="support staff admin two-step 2fa required sign in again tools refused",
    ),
]
