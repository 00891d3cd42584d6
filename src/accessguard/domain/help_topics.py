"""The troubleshooting guide behind /help: the situations a customer meets, in plain words.

Each topic links the catalogue codes a customer may see in that situation; /help/CODE links
back. Support never needs a password or a verification code, and every topic says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from accessguard.domain.errors import ErrorCode as E

_NEVER_SECRETS = "Never send your password or a verification code: support will never ask for them."


@dataclass(frozen=True)
class HelpTopic:
    """One situation at /help/topics/SLUG, with the sections every help page has."""

    slug: str
    title: str
    summary: str
    keywords: str
    what_you_see: str
    why: str
    what_to_do: tuple[str, ...]
    contact_support: str
    codes: tuple[E, ...]
    action_url: str = ""  # a page that starts what the topic explains, shown as a button
    action_label: str = ""

    @property
    def url(self) -> str:
        return f"/help/topics/{self.slug}"


TOPICS: tuple[HelpTopic, ...] = (
    HelpTopic(
        slug="wrong-password",
        title="Wrong email or password",
        summary="Signing in says “Incorrect email or password”.",
        keywords="wrong password incorrect email cannot sign in can't log in login failed "
        "forgot password",
        what_you_see="“Incorrect email or password” after you press Sign in.",
        why="The email address and the password do not match an account. For your safety the "
        "message never says which of the two was wrong, or whether an account exists.",
        what_to_do=(
            "Check that Caps Lock is off and that you typed the email address of your account.",
            "If you use a password manager, make sure it filled in the password for this site.",
            "Still not working? Use “Forgot password?” on the sign-in page to get a reset link.",
            "After several failed attempts new devices are paused for a while, so reset your "
            "password rather than guessing.",
        ),
        contact_support="Contact support if the reset email never arrives, even in the spam "
        "folder. Give the email address of your account and the time you tried. " + _NEVER_SECRETS,
        codes=(E.INVALID_CREDENTIALS, E.ACCOUNT_LOCKED, E.EMAIL_NOT_VERIFIED),
    ),
    HelpTopic(
        slug="account-locked",
        title="Account temporarily locked",
        summary="Sign-ins are paused after several wrong passwords.",
        keywords="locked lockout blocked too many attempts account locked suspended",
        what_you_see="A message that your account is temporarily locked, with the time the "
        "lock ends.",
        why="Several sign-ins with a wrong password were tried for your email address. To stop "
        "password guessing, sign-ins from unfamiliar devices pause for a while. Devices you "
        "have signed in with before keep working, so a stranger cannot lock you out of them. "
        "Each lock lifts by itself; repeated locks last longer, up to 24 hours.",
        what_to_do=(
            "Wait until the time shown, then sign in again.",
            "Or reset your password with “Forgot password?”: a successful reset lifts the lock "
            "at once.",
            "Try from a device you have used before, such as your usual phone or computer.",
            "If you did not make these attempts, reset your password anyway and check the "
            "sign-in history on your account page.",
        ),
        contact_support="Contact support if you need access before the lock ends and cannot "
        "reset your password. Give the email address of your account, the time shown in the "
        "message and the error reference. " + _NEVER_SECRETS,
        codes=(E.ACCOUNT_LOCKED, E.TOO_MANY_REQUESTS, E.INVALID_CREDENTIALS),
    ),
    HelpTopic(
        slug="verification-code",
        title="Verification code not working",
        summary="The code from your authenticator app or the SMS is refused.",
        keywords="code not working wrong code invalid code 2fa two-factor mfa otp one-time "
        "authenticator app sms text message code not received expired",
        what_you_see="“The verification code is not correct”, a note that the code was already "
        "used, that your device clock is wrong, or that an SMS could not be sent.",
        why="Authenticator codes change every 30 seconds and depend on your phone's clock; each "
        "code works once. SMS codes expire after a few minutes; after a resend, the code before "
        "it works too until it expires. Attempts are limited to stop guessing.",
        what_to_do=(
            "Authenticator app: enter the code currently shown, before it changes.",
            "If you are told your clock is wrong, turn on automatic date and time on your "
            "phone, then enter a fresh code.",
            "SMS: type the code from either of your two newest messages, whichever arrives "
            "first. Wait for the countdown before asking for another; messages can take a "
            "minute to arrive.",
            "If the SMS cannot be sent, try again shortly or use your authenticator app.",
            "If the sign-in expired, start again with your email and password.",
        ),
        contact_support="Contact support if no SMS arrives after several tries and you have no "
        "other method. Give the email address of your account, the time and the error "
        "reference. " + _NEVER_SECRETS,
        codes=(
            E.INVALID_MFA_CODE,
            E.MFA_CODE_REUSED,
            E.TOTP_CLOCK_DRIFT,
            E.MFA_TOKEN_EXPIRED,
            E.MFA_TOKEN_INVALID,
            E.MFA_METHOD_UNAVAILABLE,
            E.SMS_RESEND_TOO_SOON,
            E.SMS_DELIVERY_FAILED,
            E.SMS_CODE_EXPIRED,
            E.SMS_LIMIT_REACHED,
        ),
    ),
    HelpTopic(
        slug="phone-number",
        title="Adding or changing your phone number",
        summary="Sign-in codes by SMS: adding a number, changing it, removing it.",
        keywords="phone number mobile number sms text message add phone change number new "
        "number remove phone country code landline",
        what_you_see="The number is refused, no code arrives, or changing the number asks "
        "for your password and a code.",
        why="We send sign-in codes only to a mobile number we have checked with a code. "
        "Changing or removing it needs your password and a code from your authenticator app "
        "or your current number, so that someone with your open session cannot redirect your "
        "codes. You are emailed about every change, and withdrawals pause for a while after.",
        what_to_do=(
            "Type the number with its country code, starting with +; spaces, dashes and "
            "brackets are fine. Landlines and premium-rate numbers cannot receive codes.",
            "Enter the code from the SMS within a few minutes. You can ask for another after a "
            "minute; the one before it keeps working until it expires.",
            "To change the number, give your password and a code from your authenticator app, "
            "or ask for a code to your current number first.",
            "Lost the old number? Use a recovery code, or open an account-recovery request.",
            "Asked for your password while adding a number or an authenticator app? You "
            "signed in a while ago: type it in the form to confirm it is you.",
        ),
        contact_support="Contact support if you were emailed about a phone change you did not "
        "make. Give the email address of your account and the time in the email. " + _NEVER_SECRETS,
        codes=(
            E.PHONE_NUMBER_INVALID,
            E.REAUTHENTICATION_REQUIRED,
            E.SMS_CODE_EXPIRED,
            E.SMS_LIMIT_REACHED,
            E.SMS_RESEND_TOO_SOON,
            E.SMS_DELIVERY_FAILED,
            E.SMS_NOT_SET_UP,
            E.APP_CODE_REQUIRED,
        ),
    ),
    HelpTopic(
        slug="lost-device",
        title="Lost phone or authenticator app",
        summary="You cannot get verification codes any more.",
        keywords="lost phone stolen phone new phone broken phone authenticator deleted "
        "recovery codes backup codes changed number sim 2fa reset",
        what_you_see="You are asked for a verification code that you cannot get.",
        why="Two-step verification protects your account even if your password leaks, so it "
        "cannot be skipped. A careful recovery keeps a thief with your password out.",
        what_to_do=(
            "Use one of the recovery codes you saved when you turned on two-step verification; "
            "each works once. Once signed in, remove the lost app or phone on your account "
            "page with another recovery code, then set up the new device.",
            "Without recovery codes, open an account-recovery request on the “Lost your "
            "phone?” page (/recover) with your email, password and what happened. Support "
            "reviews it.",
            "Two-step verification is removed only after a waiting period. We notify you by "
            "email during it, so you can cancel if you did not ask for it.",
            "After recovery, withdrawals stay on hold for a while for your protection. Set up "
            "your new device and save new recovery codes.",
        ),
        contact_support="Contact support if your phone was stolen, so they can watch your "
        "account. Give the email address of your account, when you lost the device and what "
        "you have tried. " + _NEVER_SECRETS,
        codes=(
            E.INVALID_MFA_CODE,
            E.RECOVERY_CODE_USED,
            E.RECOVERY_CODES_REPLACED,
            E.SECOND_FACTOR_REQUIRED,
            E.TOTP_ALREADY_ENABLED,
            E.TOTP_NOT_SET_UP,
            E.SMS_DELIVERY_FAILED,
        ),
    ),
    HelpTopic(
        slug="account-recovery",
        title="Lost my phone or authenticator: recovery through support",
        summary="How a recovery request works, how long it takes, and how to cancel one.",
        keywords="lost my phone lost authenticator no recovery codes account recovery request "
        "support review waiting period 48 hours cancel recovery not me 2fa removed",
        what_you_see="You cannot get verification codes and have no recovery codes left, or "
        "you received an email about a recovery request for your account.",
        why="Removing two-step verification would let anyone who knows your password in, so it "
        "is never done at once: support reviews each request, and the change waits so that "
        "the real owner has time to stop it.",
        what_to_do=(
            "Open the recovery page and enter your email address, your password and what "
            "happened (for example “phone stolen on 3 May, no recovery codes”). You get a "
            "reference such as R-7KQ2-M4XD: quote it to support.",
            "We email your address at once with a link to cancel the request. Only a request "
            "with the right password on an account with two-step verification opens a case.",
            "Support reviews the request. Once approved, two-step verification is removed "
            "after a waiting period of 48 hours; we email you again when the request is "
            "approved and when it is carried out.",
            "Until the waiting period ends the cancel link in any of these emails stops the "
            "request, and so does “Cancel this request” on your account page, where an open "
            "request is shown while you are signed in. If you did not ask for it, cancel it "
            "and reset your password: someone knows it. "
            "A password reset also ends the request, as it rested on the old password; we "
            "email you when it does, and you can open a new one with the new password.",
            "Afterwards every session is signed out and withdrawals stay on hold for a while. "
            "Sign in with your password, set up your new device and save new recovery codes.",
        ),
        contact_support="Contact support with your reference if the request needs more "
        "information, or if you cancelled by mistake. " + _NEVER_SECRETS,
        codes=(
            E.RECOVERY_TOKEN_INVALID,
            E.NO_RECOVERY_REQUEST,
            E.TOO_MANY_REQUESTS,
            E.VALIDATION_ERROR,
        ),
        action_url="/recover",
        action_label="Start a recovery request",
    ),
    HelpTopic(
        slug="support-tools",
        title="Support staff: reviewing recovery requests",
        summary="For support staff: who may use the support tools, and why some are refused.",
        keywords="support staff admin agent recovery review approve reject tools refused",
        what_you_see="The support tools are refused, or a decision on a recovery request is.",
        why="The tools can remove the protection of a customer's account. They open only to "
        "staff accounts signed in with a second factor, and nobody may decide a request on "
        "their own account. A request may also have been decided or cancelled meanwhile.",
        what_to_do=(
            "Sign in with your password and a verification code, not a password alone.",
            "Ask a colleague to decide requests on your own account.",
            "Reload the list when a decision is refused as already closed.",
        ),
        contact_support="Ask an administrator if your account lacks the support role. "
        + _NEVER_SECRETS,
        codes=(E.MFA_SESSION_REQUIRED, E.RECOVERY_CASE_CLOSED, E.FORBIDDEN),
    ),
    HelpTopic(
        slug="reset-password",
        title="Resetting a forgotten password",
        summary="The reset email, the reset link or the new password is a problem.",
        keywords="forgot password reset password reset link expired new password rejected "
        "too short too common",
        what_you_see="The reset link says it is invalid or expired, or the new password is "
        "refused.",
        why="Reset links work once and for 30 minutes, and a newer link replaces older ones. "
        "New passwords must be long and not among passwords leaked elsewhere.",
        what_to_do=(
            "Ask for a new link with “Forgot password?” and open the newest email.",
            "Copy the link in full if your email program splits it over two lines.",
            "Choose a phrase of several unrelated words (at least 15 characters) that you use "
            "nowhere else, or let a password manager make one.",
            "After a reset every session ends, and withdrawals are on hold for 24 hours.",
        ),
        contact_support="Contact support if no reset email arrives within a few minutes, even "
        "in the spam folder. Give the email address of your account and the time you asked. "
        + _NEVER_SECRETS,
        codes=(
            E.RESET_TOKEN_INVALID,
            E.PASSWORD_TOO_SHORT,
            E.PASSWORD_TOO_LONG,
            E.PASSWORD_TOO_COMMON,
            E.PASSWORD_UNCHANGED,
        ),
    ),
    HelpTopic(
        slug="confirm-email",
        title="Confirming your email address",
        summary="The confirmation email is missing or its link does not work.",
        keywords="verify email confirm email confirmation link not received activation",
        what_you_see="A request to confirm your email before signing in, or a confirmation "
        "link that is invalid or expired.",
        why="We confirm that the address is yours so that security alerts and reset links "
        "reach you. Confirmation links work once and for 24 hours.",
        what_to_do=(
            "Open the newest confirmation email and click its link; check the spam folder.",
            "Ask for a new link on the sign-in page if it expired.",
            "If your address is already confirmed, simply sign in.",
        ),
        contact_support="Contact support if no confirmation email arrives after asking twice. "
        "Give the email address you registered with. " + _NEVER_SECRETS,
        codes=(E.EMAIL_NOT_VERIFIED, E.VERIFICATION_TOKEN_INVALID),
    ),
    HelpTopic(
        slug="captcha",
        title="The “are you human” check keeps failing",
        summary="A CAPTCHA challenge appears and is not accepted.",
        keywords="captcha challenge human robot check puzzle keeps failing not accepted",
        what_you_see="A challenge to prove you are a person, refused again and again.",
        why="Our sign-in pages never ask you to solve a puzzle or pick pictures. When many "
        "attempts come from your connection, they ask you to wait a few minutes instead. A "
        "challenge like that comes from somewhere else: your network or VPN, a browser "
        "extension, or a page that only looks like ours.",
        what_to_do=(
            "Check the address in your browser: type our address yourself rather than "
            "following a link you doubt, and never enter your password on a page you doubt.",
            "On a shared network, VPN or proxy, try mobile data instead.",
            "If we asked you to wait, try again after the time shown.",
        ),
        contact_support="Contact support if you keep seeing a challenge on our own address. "
        "Give the address of the page, the time, your browser or app and any error reference. "
        + _NEVER_SECRETS,
        codes=(E.TOO_MANY_REQUESTS, E.CSRF_FAILED),
    ),
    HelpTopic(
        slug="page-not-loading",
        title="The page does not load or looks broken",
        summary="Blank pages, missing styles, expired forms or error pages.",
        keywords="page not loading blank broken looks wrong error page not found form expired "
        "website down browser cookies",
        what_you_see="A blank or unstyled page, “not found”, “form expired” or an error "
        "with a reference.",
        why="An old copy of the page in your browser, blocked cookies, a browser extension, an "
        "outdated or mistyped link, or a problem on our side.",
        what_to_do=(
            "Check the status page to see whether the service is up.",
            "Reload the page. If it still looks wrong, clear this site's cached files.",
            "Allow cookies for this site; forms need them to protect you.",
            "Check the address: type it yourself rather than following a link you doubt.",
            "Try another browser, or turn off extensions that block content. The pages work "
            "without JavaScript.",
        ),
        contact_support="Contact support if the page keeps failing. Give the address of the "
        "page, the error reference if one is shown, the time, your browser and device. "
        + _NEVER_SECRETS,
        codes=(
            E.NOT_FOUND,
            E.CSRF_FAILED,
            E.INTERNAL_ERROR,
            E.SERVICE_UNAVAILABLE,
            E.PAYLOAD_TOO_LARGE,
            E.METHOD_NOT_ALLOWED,
        ),
    ),
    HelpTopic(
        slug="mobile-app",
        title="Problems with the mobile app",
        summary="The app cannot sign in or shows unclear errors.",
        keywords="mobile app phone app ios android update app not working crashes signed out",
        what_you_see="The app refuses to sign in, signs you out, or shows an error code.",
        why="Outdated app versions may speak an old version of our interface. Sessions also end "
        "after inactivity or when you change your password.",
        what_to_do=(
            "Update the app from your app store: this fixes most app problems.",
            "Turn on automatic date and time on your phone.",
            "Check your connection, then sign out of the app and sign in again.",
            "Meanwhile you can sign in on the web site.",
        ),
        contact_support="Contact support if the updated app still fails. Give the app version, "
        "your phone model, the error code and reference, and the time. " + _NEVER_SECRETS,
        codes=(
            E.UNSUPPORTED_MEDIA_TYPE,
            E.MALFORMED_REQUEST,
            E.VALIDATION_ERROR,
            E.METHOD_NOT_ALLOWED,
            E.NOT_AUTHENTICATED,
            E.SESSION_EXPIRED,
        ),
    ),
    HelpTopic(
        slug="unusual-activity",
        title="“Unusual activity” alerts",
        summary="An email about a change you did not make, or a sign-in you do not recognise.",
        keywords="unusual activity suspicious alert new device new location email wasn't me "
        "hacked compromised security alert sessions",
        what_you_see="An email from us about a security change (password changed, a second "
        "factor added or removed, a recovery request), or a sign-in in your history that you "
        "do not recognise.",
        why="We email you after every security change on your account, and your account page "
        "lists recent sign-ins and the sessions still open, so that you can act if it was not "
        "you.",
        what_to_do=(
            "If it was you, nothing more is needed.",
            "If it was not you, reset your password with “Forgot password”: that ends every "
            "session at once and holds withdrawals for a while.",
            "Then review the sign-in history and sessions on your account page, and turn on "
            "two-step verification.",
            "Never enter your password through a link in an email you doubt: type the address "
            "yourself.",
        ),
        contact_support="Contact support at once if you think someone else got in. Give the "
        "email address of your account and the time of the alert. " + _NEVER_SECRETS,
        codes=(E.SESSION_EXPIRED, E.NOT_AUTHENTICATED, E.ACCOUNT_LOCKED),
    ),
    HelpTopic(
        slug="connection-failed",
        title="Timeouts and “connection failed”",
        summary="Requests take too long, fail, or you are asked to slow down.",
        keywords="timeout timed out connection failed network error slow unavailable down "
        "outage try again later",
        what_you_see="“Connection failed”, a message that the service is briefly "
        "unavailable, or a request to wait before trying again.",
        why="A part of the service did not answer in time, your network dropped, or many "
        "requests came from your connection. Nothing is allowed or changed while a part is "
        "down, so trying again is safe.",
        what_to_do=(
            "Wait a few seconds and try again.",
            "Check the status page to see whether the service is up.",
            "Switch networks, for example from Wi-Fi to mobile data.",
            "If asked to wait, try again after the time shown.",
        ),
        contact_support="Contact support if it lasts more than a few minutes while the status "
        "page shows everything working. Give the time, the error reference and your network "
        "(home, office, mobile, VPN). " + _NEVER_SECRETS,
        codes=(
            E.SERVICE_UNAVAILABLE,
            E.REQUEST_TIMED_OUT,
            E.TOO_MANY_REQUESTS,
            E.SMS_DELIVERY_FAILED,
        ),
    ),
    HelpTopic(
        slug="maintenance",
        title="Scheduled maintenance",
        summary="The service is paused for planned work.",
        keywords="maintenance planned work scheduled downtime upgrade offline",
        what_you_see="A notice of planned maintenance, or a message during it with the "
        "expected end.",
        why="Planned work is announced ahead on these pages and in the app. During it, every "
        "request gets a maintenance answer instead of a broken page.",
        what_to_do=(
            "Check the status page for announced maintenance and its expected end.",
            "Wait until the time shown, then try again.",
        ),
        contact_support="Contact support if maintenance lasts well past its announced end. "
        "Give the time and the error reference. " + _NEVER_SECRETS,
        codes=(E.SERVICE_UNAVAILABLE,),
    ),
    HelpTopic(
        slug="contact-support",
        title="Contacting support",
        summary="What to give support so they can help quickly, and what never to give.",
        keywords="contact support help desk customer service agent ticket request phone "
        "call email scam",
        what_you_see="A problem this guide does not solve.",
        why="Support can look up what happened from the error reference and the time, without "
        "any secret from you.",
        what_to_do=(
            "Give the email address of your account.",
            "Give the error code and reference shown with the message, and the time it happened.",
            "Give your device, browser or app version, and what you have tried.",
            "Never give your password, a verification code or a recovery code, to anyone.",
        ),
        contact_support="Anyone who asks for your password or a code is not our support, "
        "whatever they claim: end the conversation. " + _NEVER_SECRETS,
        codes=(E.INTERNAL_ERROR, E.FORBIDDEN, E.ACCOUNT_LOCKED),
    ),
)

BY_SLUG: dict[str, HelpTopic] = {topic.slug: topic for topic in TOPICS}


def topics_for(code: E) -> list[HelpTopic]:
    """The situations in which a customer may meet `code`."""
    return [topic for topic in TOPICS if code in topic.codes]
