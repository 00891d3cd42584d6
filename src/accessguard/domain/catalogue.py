"""Words for every error code: the message, the remedy and the help page behind /help/CODE.

Written for a customer who reads nothing else: what happened, why, what to do next, and when
to ask support (who never needs a password or a code).
"""

from __future__ import annotations

from accessguard.domain.errors import CatalogueEntry, ErrorCode, HelpPage

_SUPPORT_DETAILS = (
    "Contact support with the email address of your account, the error reference shown with "
    "the message, the time it happened and the device you used. Never send your password or a "
    "verification code: support will never ask for them."
)


def _entry(code: ErrorCode, status: int, message: str, remedy: str, **help: str) -> CatalogueEntry:
    help.setdefault("contact_support", _SUPPORT_DETAILS)
    return CatalogueEntry(code, status, message, remedy, HelpPage(**help))


_ENTRIES = [
    _entry(
        ErrorCode.VALIDATION_ERROR,
        422,
        "Some of the information sent is missing or not in the expected form.",
        "Check the highlighted fields and send the form again.",
        title="A form or request was not accepted",
        what_you_see="The form shows which fields need attention, or an app reports "
        "“validation_error” with the names of the fields.",
        why="A field was empty, too long, of the wrong kind (for example text where a number "
        "belongs) or contained characters that cannot be part of it, such as an email address "
        "without an @.",
        what_to_do="Correct the named fields and try again. If an app keeps showing this, "
        "update it: an outdated app may send requests in an old format.",
        keywords="form invalid field wrong format email address rejected",
    ),
    _entry(
        ErrorCode.PAYLOAD_TOO_LARGE,
        413,
        "The request is larger than the service accepts.",
        "Shorten what you entered and try again.",
        title="Request too large",
        what_you_see="A message that the request was too large.",
        why="Requests over 64 KiB are refused to protect the service.",
        what_to_do="Shorten long fields such as descriptions and send again.",
        keywords="too large too long size",
    ),
    _entry(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        415,
        "The request was not sent as JSON.",
        "Send the request body as JSON with the header Content-Type: application/json.",
        title="Request not sent as JSON",
        what_you_see="An app or integration reports “unsupported_media_type”.",
        why="The API accepts changes only as JSON, which also protects accounts from forms "
        "posted by other web sites.",
        what_to_do="If you use an official app, update it. Developers: send "
        "Content-Type: application/json.",
        keywords="json content type app integration",
    ),
    _entry(
        ErrorCode.NOT_FOUND,
        404,
        "There is nothing at this address.",
        "Check the address, or start again from the sign-in page.",
        title="Page or address not found",
        what_you_see="A “not found” page or error.",
        why="The link is mistyped, outdated or was cut short when copied.",
        what_to_do="Go to the sign-in page and start again. Copy links from emails in full.",
        keywords="page not found broken link missing 404",
    ),
    _entry(
        ErrorCode.METHOD_NOT_ALLOWED,
        405,
        "This address does not accept that kind of request.",
        "Use the page's own form or update the app.",
        title="Request not allowed at this address",
        what_you_see="An error saying the method is not allowed.",
        why="The request used a method (for example GET instead of POST) the address does not "
        "support, usually because of an outdated app or a bookmark of a form result.",
        what_to_do="Open the page from the start instead of a bookmark, or update the app.",
        keywords="method not allowed app bookmark",
    ),
    _entry(
        ErrorCode.INVALID_CREDENTIALS,
        401,
        "Incorrect email or password.",
        "Check both and try again, or reset your password.",
        title="Incorrect email or password",
        what_you_see="“Incorrect email or password” after signing in.",
        why="The email address or the password does not match an account. For your safety we "
        "do not say which one was wrong, or whether an account exists for the address.",
        what_to_do="Check for typing mistakes and Caps Lock, and that you use the email address "
        "of your account. If you are unsure of the password, use “Forgot password” to get a "
        "reset link. After several failed attempts the account is locked for a while on new "
        "devices.",
        keywords="wrong password incorrect email cannot sign in login failed",
    ),
    _entry(
        ErrorCode.ACCOUNT_LOCKED,
        423,
        "Your account is temporarily locked after several failed sign-in attempts.",
        "Wait until the lock ends, or reset your password to lift it now.",
        title="Account temporarily locked",
        what_you_see="A message that your account is locked, with the time the lock ends.",
        why="Several sign-in attempts with a wrong password were made for this email address. "
        "To stop people guessing passwords we pause sign-ins from unfamiliar devices. Devices "
        "you have signed in with before keep working. Repeated locks last longer, up to "
        "24 hours; each lifts by itself.",
        what_to_do="Wait until the time shown, or reset your password with “Forgot password”: "
        "a successful reset lifts the lock at once. If you did not make these attempts, reset "
        "your password anyway and check your sign-in history.",
        keywords="locked lockout blocked too many attempts account locked",
    ),
    _entry(
        ErrorCode.TOO_MANY_REQUESTS,
        429,
        "Too many requests from your connection.",
        "Wait a moment and try again; the message says how long.",
        title="Too many requests",
        what_you_see="A message asking you to wait before trying again.",
        why="Many requests came from your network address in a short time. Shared networks "
        "(offices, mobile carriers, VPNs) can reach this limit together.",
        what_to_do="Wait for the time shown, then try again. Switching to another network, for "
        "example from Wi-Fi to mobile data, may also help.",
        keywords="too many requests rate limit slow down wait throttled",
    ),
    _entry(
        ErrorCode.EMAIL_NOT_VERIFIED,
        403,
        "Please confirm your email address before signing in.",
        "Open the link we emailed you, or ask for a new one.",
        title="Email address not confirmed yet",
        what_you_see="After entering the right password, a request to confirm your email.",
        why="We confirm that the address belongs to you before opening the account, so that "
        "security alerts and reset links reach you.",
        what_to_do="Open the confirmation email and click its link. Check the spam folder. "
        "If the link expired or you cannot find it, ask for a new one on the sign-in page.",
        keywords="verify email confirm email address not verified link",
    ),
    _entry(
        ErrorCode.NOT_AUTHENTICATED,
        401,
        "You are not signed in.",
        "Sign in and try again.",
        title="Not signed in",
        what_you_see="You are sent to the sign-in page, or an app says you are signed out.",
        why="The request did not carry a valid session, for example because cookies are "
        "blocked or you signed out.",
        what_to_do="Sign in again. In a browser, allow cookies for this site.",
        keywords="signed out not logged in session cookie",
    ),
    _entry(
        ErrorCode.SESSION_EXPIRED,
        401,
        "Your session has ended.",
        "Sign in again to continue.",
        title="Session ended",
        what_you_see="You are asked to sign in again.",
        why="Sessions end after a period without activity, after a maximum lifetime, when you "
        "sign out, when you change or reset your password, or when a session is ended from the "
        "account page.",
        what_to_do="Sign in again. If you did not end the session yourself, change your "
        "password and review the active sessions on your account page.",
        keywords="session expired logged out timeout signed out",
    ),
    _entry(
        ErrorCode.FORBIDDEN,
        403,
        "You do not have permission to do this.",
        "Use an account with the right permissions.",
        title="Not allowed",
        what_you_see="A message that you lack permission.",
        why="You are signed in, but your account may not perform this action.",
        what_to_do="Go back to your account page. Staff: ask an administrator for the role.",
        keywords="forbidden permission denied not allowed",
    ),
    _entry(
        ErrorCode.CSRF_FAILED,
        403,
        "This form has expired or was sent from another site.",
        "Reload the page and send the form again.",
        title="Form expired",
        what_you_see="A message that the form expired or came from another site.",
        why="Every form carries a security token tied to your browser, so other web sites "
        "cannot submit forms in your name. The token was missing, old or from another "
        "browser, for example after cookies were cleared or the page was open for a long time.",
        what_to_do="Reload the page and try again. Make sure cookies are allowed for this site.",
        keywords="form expired csrf token reload page cookies",
    ),
    _entry(
        ErrorCode.PASSWORD_TOO_SHORT,
        422,
        "This password is too short.",
        "Choose a longer password; a phrase of several words is easy to remember.",
        title="Password too short",
        what_you_see="The new password is refused as too short, with the minimum length.",
        why="Long passwords are much harder to guess. We ask for at least 15 characters, as "
        "the NIST guidelines do for a password that may be the only factor.",
        what_to_do="Use a phrase of several unrelated words, or let a password manager make "
        "one. Any characters are allowed, spaces and emoji included.",
        keywords="password short length minimum new password",
    ),
    _entry(
        ErrorCode.PASSWORD_TOO_LONG,
        422,
        "This password is too long.",
        "Choose a password of at most the length shown.",
        title="Password too long",
        what_you_see="The new password is refused as too long.",
        why="Extremely long passwords are refused to protect the service.",
        what_to_do="Choose a shorter password; the limit is shown with the message.",
        keywords="password long length maximum",
    ),
    _entry(
        ErrorCode.PASSWORD_TOO_COMMON,
        422,
        "This password is too common: it appears in lists of leaked or popular passwords.",
        "Choose a different password that you use nowhere else.",
        title="Password too common",
        what_you_see="The new password is refused as common or breached.",
        why="It appears in lists of passwords from public data breaches or among the most used "
        "ones. Attackers try these first.",
        what_to_do="Choose a password you use nowhere else, such as a phrase of several "
        "unrelated words, or one from a password manager.",
        keywords="password common breached leaked weak pwned",
    ),
    _entry(
        ErrorCode.RESET_TOKEN_INVALID,
        400,
        "This password reset link is invalid, used or expired.",
        "Ask for a new reset link.",
        title="Password reset link not working",
        what_you_see="The reset page says the link is invalid or expired.",
        why="Reset links work once and for 30 minutes. A newer link, or a password change, "
        "makes older links stop working.",
        what_to_do="Request a new link with “Forgot password” and use the newest email. Copy "
        "the link in full if your email program splits it.",
        keywords="reset link expired invalid forgot password email link",
    ),
    _entry(
        ErrorCode.VERIFICATION_TOKEN_INVALID,
        400,
        "This email confirmation link is invalid, used or expired.",
        "Ask for a new confirmation link.",
        title="Email confirmation link not working",
        what_you_see="The confirmation page says the link is invalid or expired.",
        why="Confirmation links work once and for 24 hours; a newer link replaces older ones.",
        what_to_do="Ask for a new link from the sign-in page and use the newest email. If your "
        "address is already confirmed, simply sign in.",
        keywords="verification link expired confirm email invalid",
    ),
    _entry(
        ErrorCode.INVALID_MFA_CODE,
        401,
        "The verification code is not correct.",
        "Check the code and try again; the message says how many attempts are left.",
        title="Verification code rejected",
        what_you_see="“The verification code is not correct”, with the attempts left.",
        why="The code does not match. Authenticator codes change every 30 seconds; SMS codes "
        "expire after 5 minutes and a resent code replaces the old one.",
        what_to_do="Enter the current code from your authenticator app, or the newest SMS. If "
        "you lost your device, use a recovery code or open an account-recovery request.",
        keywords="code not working wrong code 2fa authenticator sms verification",
    ),
    _entry(
        ErrorCode.MFA_CODE_REUSED,
        401,
        "This code was already used.",
        "Wait for your authenticator app to show a new code and enter that one.",
        title="Code already used",
        what_you_see="A message that the code was used before.",
        why="Each authenticator code is accepted once, so a code seen by someone else cannot be "
        "used again.",
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
        ErrorCode.SECOND_FACTOR_REQUIRED,
        409,
        "Recovery codes need two-step verification to be turned on first.",
        "Add an authenticator app on your account page; you get recovery codes with it.",
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
        why="After the password, the second step must be finished within 5 minutes, and each "
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
        "Choose one of the methods offered (`methods`).",
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
        "Wait until you can ask for another; the message says how long.",
        title="Code resent too soon",
        what_you_see="A countdown before another SMS code can be sent.",
        why="SMS messages can take a minute to arrive; limiting resends protects your number "
        "from floods and keeps the newest code clear.",
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
        "Ask for a new code and enter it within 5 minutes.",
        title="SMS code expired or used up",
        what_you_see="A message that the SMS code no longer works.",
        why="Each SMS code works once, for 5 minutes, and after 5 wrong tries it stops "
        "working. A newer code replaces older ones.",
        what_to_do="Ask for a new code and type the one in the newest message. If you are "
        "signing in, you can also use your authenticator app or a recovery code.",
        keywords="sms code expired old code used up too many tries text message",
    ),
    _entry(
        ErrorCode.SMS_LIMIT_REACHED,
        429,
        "Too many SMS codes were asked for today.",
        "Try again after the time shown, or use your authenticator app or a recovery code.",
        title="Daily SMS limit reached",
        what_you_see="A message that no more SMS codes can be sent for now, with the time "
        "you can try again.",
        why="We send only a limited number of codes to one phone number and one account each "
        "day, so nobody can flood a phone with messages or run up costs through it.",
        what_to_do="Wait until the time shown. Meanwhile, sign in with your authenticator app "
        "or a recovery code if you have one.",
        keywords="sms limit too many codes text messages daily limit",
    ),
    _entry(
        ErrorCode.PHONE_NUMBER_INVALID,
        422,
        "This phone number cannot receive our text messages.",
        "Enter your mobile number with its country code, for example +44 7911 123456.",
        title="Phone number not accepted",
        what_you_see="The phone number field is marked as not valid.",
        why="The number is incomplete, lacks its country code, holds letters, or belongs to "
        "a line that cannot receive text messages, such as a landline or a premium-rate "
        "number.",
        what_to_do="Type your mobile number starting with + and the country code. Spaces, "
        "dashes and brackets are fine.",
        keywords="phone number invalid mobile number country code sms landline",
    ),
    _entry(
        ErrorCode.SERVICE_UNAVAILABLE,
        503,
        "The service is briefly unavailable.",
        "Try again in a few seconds; nothing was changed.",
        title="Service briefly unavailable",
        what_you_see="A message that the service is unavailable, or “connection failed”.",
        why="A part of the service did not answer in time. For your safety nothing is allowed "
        "or changed while it is down.",
        what_to_do="Wait a few seconds and try again. The status page shows whether the "
        "service is up.",
        keywords="unavailable down outage connection failed timeout error",
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
        ErrorCode.MFA_SESSION_REQUIRED,
        403,
        "This needs a sign-in with two-step verification.",
        "Sign out, then sign in again with your password and a verification code.",
        title="Sign in with two-step verification",
        what_you_see="Support staff: the support tools are refused although you are signed in.",
        why="Support tools can remove the protection of a customer's account, so they only "
        "open for a session that was signed in with a second factor, never with a password "
        "alone.",
        what_to_do="Turn on two-step verification on your account page if it is off, sign "
        "out, and sign in again entering your verification code.",
        keywords="support staff admin two-step 2fa required sign in again tools refused",
    ),
    _entry(
        ErrorCode.INTERNAL_ERROR,
        500,
        "Something went wrong on our side.",
        "Try again; if it happens again, contact support with the reference shown.",
        title="Unexpected error",
        what_you_see="A message that something went wrong, with a reference.",
        why="An unexpected fault on our side; it has been logged under the reference.",
        what_to_do="Try again. If it keeps happening, contact support with the reference.",
        keywords="error went wrong broken page not loading",
    ),
]

CATALOGUE: dict[ErrorCode, CatalogueEntry] = {entry.code: entry for entry in _ENTRIES}
