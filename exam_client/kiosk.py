"""Chromium as a locked exam screen on the agent's local UI.

The flags make a full-screen window with no address bar, no dev tools, no extensions, no
translation or password prompts, no pinch zoom or swipe navigation, no sync and no
background traffic, in a fresh throw-away profile (incognito) so nothing from an earlier
session is visible. Chromium alone is not a lockdown: the OS account must also be a kiosk
account, and Chromium's managed policy must switch off the developer tools
(``DeveloperToolsAvailability: 2``; there is no command-line switch for it) and allow only
the local UI's address (see docs/client.md), or use Safe Exam Browser instead.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

KIOSK_FLAGS = (
    "--kiosk",
    "--incognito",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-component-extensions-with-background-pages",
    "--disable-translate",
    "--disable-features=Translate,TranslateUI,OverscrollHistoryNavigation,TouchpadOverscrollHistoryNavigation,PasswordManagerOnboarding,AutofillServerCommunication,MediaRouter",
    "--disable-pinch",
    "--overscroll-history-navigation=0",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-infobars",
    "--disable-session-crashed-bubble",
    "--disable-save-password-bubble",
    "--disable-print-preview",
    "--disable-notifications",
    "--deny-permission-prompts",
    "--noerrdialogs",
    "--password-store=basic",
    "--autoplay-policy=user-gesture-required",
    "--lang=zh-CN",
)


def kiosk_command(url: str, chromium: str, profile_dir: Path) -> list[str]:
    """The command line that opens ``url`` as the exam screen."""
    return [
        chromium,
        *KIOSK_FLAGS,
        f"--user-data-dir={profile_dir}",
        # Only the local UI: any other address is sent nowhere.
        "--host-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
        url,
    ]


def run_kiosk(url: str, chromium: str = "/usr/bin/chromium", *, dry_run: bool = False) -> int:
    """Start Chromium in kiosk mode with a fresh profile; wait for it; remove the profile."""
    if not dry_run and shutil.which(chromium) is None and not Path(chromium).exists():
        raise FileNotFoundError(chromium)
    profile = Path(tempfile.mkdtemp(prefix="exam-kiosk-"))
    try:
        cmd = kiosk_command(url, chromium, profile)
        if dry_run:
            print(" ".join(cmd))
            return 0
        return subprocess.call(cmd)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
