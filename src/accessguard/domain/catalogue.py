"""Words for every error code: the message, the remedy and the help page behind /help/CODE.

Written for a customer who reads nothing else: what happened, why, what to do next, and when
to ask support (who never needs a password or a code).
"""

from __future__ import annotations

from accessguard.domain.catalogue_two_factor import TWO_FACTOR_ENTRIES
from accessguard.domain.errors import CatalogueEntry, ErrorCode
from accessguard.domain.errors import catalogue_entry as _entry

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
        ErrorCode.MALFORMED_REQUEST,
        400,
        "The request could not be read.",
        "Try again. If it keeps happening, update the app or contact support with the reference.",
        title="Request could not be read",
        what_you_see="An app or integration reports “malformed_request”, or a proxy shows "
        "“400 Bad Request”.",
        why="The request arrived broken before its contents could be read: its headers were "
        "not valid HTTP, or it gave its length in two ways that disagree. A network device or "
        "an outdated app can send such requests; they are refused whole, so nothing changed.",
        what_to_do="Try again. If you use an official app, update it. Developers: send "
        "well-formed HTTP/1.1 (one Content-Length or chunked, never both).",
        keywords="bad request 400 http header proxy app integration broken",
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
        why="Several sign-in attempts with a wrong password, or with wrong verification codes "
        "after the right password, were made for this email address. "
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
        "Too many attempts in a short time.",
        "Wait a moment, then try again when the time shown has passed.",
        title="Too many requests",
        what_you_see="A message asking you to wait before trying again.",
        why="Many requests came from your network address in a short time, or many wrong "
        "codes were entered while setting up an authenticator app. Shared networks (offices, "
        "mobile carriers, VPNs) can reach the limit of an address together.",
        what_to_do="Wait for the time shown, then try again. When the limit is your network's, "
        "switching to another one, for example from Wi-Fi to mobile data, may also help; "
        "when you were setting up an app, check that it shows this account before you type "
        "its code.",
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
        why="Every form carries a security token tied to your browser and your sign-in, so "
        "other web sites cannot submit forms in your name. The token was missing, old or "
        "from another browser, for example after cookies were cleared, after you signed out "
        "and in again in another tab, or when the page was open for a long time.",
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
        "Choose a shorter password: the longest allowed is given with this message.",
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
        ErrorCode.PASSWORD_UNCHANGED,
        422,
        "This is the password the account has now.",
        "Choose a different one. If nobody else knows this one, you can keep it: there is "
        "nothing to change.",
        title="New password same as the current one",
        what_you_see="The new password is refused because it is the one the account has now.",
        why="A change or a reset is meant to replace the password. If someone else learnt the "
        "current one, keeping it would let them sign in again once the reset has ended every "
        "session.",
        what_to_do="Choose a password you have not used here, such as a phrase of several "
        "unrelated words, or one from a password manager. If you were only unsure of your "
        "password and nobody else knows it, keep it: sign in with it, or stay signed in.",
        keywords="same password current password reuse old password new password",
    ),
    _entry(
        ErrorCode.RESET_TOKEN_INVALID,
        400,
        "This link to choose a password is invalid, used or expired.",
        "Ask for a new link with “Forgot password”.",
        title="Password reset link not working",
        what_you_see="The reset page says the link is invalid or expired.",
        why="Links to choose a password work once and for a limited time: 30 minutes when "
        "they come from “Forgot password”, a day when they come from signing up again. A "
        "newer link, or a password change, makes older links stop working.",
        what_to_do="Request a new link with “Forgot password” and use the newest email: it "
        "also sets the first password of a new account. Copy the link in full if your "
        "email program splits it.",
        keywords="reset link expired invalid forgot password email link",
    ),
    _entry(
        ErrorCode.VERIFICATION_TOKEN_INVALID,
        400,
        "This email confirmation link is invalid, replaced by a newer one, or expired.",
        "Ask for a new confirmation link.",
        title="Email confirmation link not working",
        what_you_see="The confirmation page says the link is invalid or expired.",
        why="Confirmation links work for 24 hours, and a newer link replaces older ones. A "
        "link followed again after it confirmed your address simply says so.",
        what_to_do="Ask for a new link from the sign-in page and use the newest email. If your "
        "address is already confirmed, simply sign in.",
        keywords="verification link expired confirm email invalid",
    ),
    *TWO_FACTOR_ENTRIES,
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
        ErrorCode.REQUEST_TIMED_OUT,
        503,
        "This took too long, and we stopped waiting for it.",
        "It may still have gone through: check, for example on your account page, before you "
        "try again.",
        title="Request took too long",
        what_you_see="A message that the request took too long.",
        why="A part of the service, or the connection from your device, was too slow to "
        "finish the request in time. Rather than leave you waiting, we answer; the change you "
        "asked for may still be completed a moment later.",
        what_to_do="Wait a few seconds, then look whether it happened (your account page, the "
        "email we send for most changes) before you send it again. The status page shows "
        "whether the service is up.",
        keywords="took too long timeout slow connection request timed out",
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
