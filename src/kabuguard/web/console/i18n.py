"""Japanese-first text of the operations console, with English (as the customer
site's ``web/i18n.py``; a test checks every key has both)."""

from __future__ import annotations

from typing import Any

from kabuguard.web.i18n import DEFAULT_LANGUAGE, translate

CONSOLE_MESSAGES: dict[str, dict[str, str]] = {
    "console.name": {"ja": "かぶガード 運用コンソール", "en": "Kabuguard operations console"},
    "console.tagline": {"ja": "セキュリティ・不正対策・コンプライアンス担当者専用",
                        "en": "For the security, fraud and compliance teams only"},
    "console.language": {"ja": "English", "en": "日本語"},
    "console.logout": {"ja": "ログアウト", "en": "Log out"},
    "console.signed_in_as": {"ja": "{name}（{role}）", "en": "{name} ({role})"},
    "console.nav": {"ja": "コンソールのメニュー", "en": "Console menu"},
    "nav.dashboard": {"ja": "ダッシュボード", "en": "Dashboard"},
    "nav.alerts": {"ja": "アラート", "en": "Alerts"},
    "nav.cases": {"ja": "案件", "en": "Cases"},
    "nav.restrictions": {"ja": "銘柄規制", "en": "Restrictions"},
    "nav.holds": {"ja": "保留中の取引", "en": "Held items"},
    "nav.unfreezes": {"ja": "凍結解除の承認", "en": "Unfreeze approvals"},
    "nav.compensation": {"ja": "補償", "en": "Compensation"},
    "nav.reports": {"ja": "当局報告", "en": "Regulator reports"},
    "nav.self_check": {"ja": "ガイドライン自己点検", "en": "Guideline self-check"},
    "nav.audit": {"ja": "監査ログ", "en": "Audit log"},
    "nav.staff": {"ja": "担当者管理", "en": "Staff"},
    "role.analyst": {"ja": "分析担当", "en": "analyst"},
    "role.supervisor": {"ja": "責任者", "en": "supervisor"},
    "role.admin": {"ja": "管理者", "en": "admin"},
    "role.auditor": {"ja": "監査担当（閲覧のみ）", "en": "auditor (read only)"},
    "common.reason": {"ja": "理由（必須・監査ログに記録されます）",
                      "en": "Reason (required; kept in the audit log)"},
    "common.none": {"ja": "ありません。", "en": "None."},
    "common.submit": {"ja": "実行", "en": "Submit"},
    "common.back": {"ja": "戻る", "en": "Back"},
    "common.download": {"ja": "ダウンロード", "en": "Download"},
    "common.filter": {"ja": "絞り込む", "en": "Filter"},
    "common.all": {"ja": "すべて", "en": "All"},
    "common.yes": {"ja": "はい", "en": "yes"},
    "common.no": {"ja": "いいえ", "en": "no"},
    "common.read_only": {"ja": "閲覧のみの権限です。", "en": "Your role is read only."},
    # login and enrolment
    "login.title": {"ja": "運用コンソールへのログイン", "en": "Log in to the operations console"},
    "login.intro": {"ja": "担当者はパスキーでのみログインできます。パスワードはありません。",
                    "en": "Staff log in with a passkey only. There are no passwords."},
    "login.button": {"ja": "パスキーでログイン", "en": "Log in with a passkey"},
    "login.enrol_link": {"ja": "登録コードをお持ちの方（初回のパスキー登録）",
                         "en": "Have an enrolment code? Register your first passkey"},
    "login.session_ended": {"ja": "セッションが終了しました。もう一度ログインしてください。",
                            "en": "Your session has ended. Please log in again."},
    "login.logged_out": {"ja": "ログアウトしました。", "en": "You have logged out."},
    "enrol.title": {"ja": "パスキーの登録", "en": "Register a passkey"},
    "enrol.intro": {"ja": "管理者から受け取った登録コード（24時間有効・1回限り）を入力し、"
                          "この端末にパスキーを登録します。",
                    "en": "Enter the enrolment code an administrator gave you (valid 24 "
                          "hours, once) and register a passkey on this device."},
    "enrol.code": {"ja": "登録コード", "en": "Enrolment code"},
    "enrol.name": {"ja": "パスキーの名前（端末名など）", "en": "Passkey name (e.g. the device)"},
    "enrol.button": {"ja": "パスキーを登録してログイン", "en": "Register and log in"},
    "passkey.unsupported": {"ja": "このブラウザはパスキーに対応していません。",
                            "en": "This browser does not support passkeys."},
    "passkey.cancelled": {"ja": "パスキーの操作がキャンセルされたか、時間切れになりました。",
                          "en": "The passkey request was cancelled or timed out."},
    "passkey.failed": {"ja": "パスキーで確認できませんでした。",
                       "en": "The passkey could not be verified."},
    # home
    "home.title": {"ja": "ようこそ", "en": "Welcome"},
    # errors
    "error.title": {"ja": "エラー", "en": "Error"},
    "error.console_forbidden": {"ja": "この操作を行う権限がありません（{role}）。",
                                "en": "Your role ({role}) may not do this."},
    "error.reason_required": {"ja": "理由を2文字以上で入力してください。",
                              "en": "Write why (at least 2 characters)."},
    "error.csrf_failed": {"ja": "フォームの有効期限が切れました。ページを再読み込みしてください。",
                          "en": "The form has expired. Reload the page and try again."},
    "error.not_found": {"ja": "見つかりません。", "en": "Not found."},
    # staff admin
    "staff.title": {"ja": "担当者管理", "en": "Staff"},
    "staff.name": {"ja": "氏名", "en": "Name"},
    "staff.role": {"ja": "権限", "en": "Role"},
    "staff.created": {"ja": "作成日時", "en": "Created"},
    "staff.passkeys": {"ja": "パスキー", "en": "Passkeys"},
    "staff.status": {"ja": "状態", "en": "Status"},
    "staff.active": {"ja": "有効", "en": "active"},
    "staff.disabled": {"ja": "無効", "en": "disabled"},
    "staff.create": {"ja": "担当者を追加", "en": "Add a staff member"},
    "staff.create_button": {"ja": "追加して登録コードを発行", "en": "Add and issue a code"},
    "staff.new_code": {"ja": "新しい登録コード", "en": "New enrolment code"},
    "staff.disable": {"ja": "無効にする", "en": "Disable"},
    "staff.code_issued": {"ja": "{name} さんの登録コード（24時間有効・この画面でのみ表示）:",
                          "en": "Enrolment code for {name} (valid 24 hours, shown only now):"},
    # audit log
    "audit.title": {"ja": "監査ログ（コンソール操作）", "en": "Audit log (console actions)"},
    "audit.seq": {"ja": "番号", "en": "Seq"},
    "audit.ts": {"ja": "日時", "en": "Time"},
    "audit.actor": {"ja": "実行者", "en": "Who"},
    "audit.action": {"ja": "操作", "en": "What"},
    "audit.subject": {"ja": "対象", "en": "Subject"},
    "audit.reason": {"ja": "理由", "en": "Why"},
    "audit.chain": {"ja": "ハッシュチェーンの検証", "en": "Hash chain"},
    "audit.chain_ok": {"ja": "改ざんは検出されませんでした（{count}件）。",
                       "en": "No tampering found ({count} records)."},
    "audit.chain_bad": {"ja": "改ざんを検出しました: {detail}", "en": "Tampering found: {detail}"},
}


def console_text(key: str, lang: str, **params: Any) -> str:
    """The console's text for ``key`` (the customer site's when the console has none).

    >>> console_text("nav.alerts", "en"), console_text("nav.cash", "ja")
    ('Alerts', '入出金')
    """
    entry = CONSOLE_MESSAGES.get(key)
    if entry is None:
        return translate(key, lang, **params)
    text = entry.get(lang) or entry[DEFAULT_LANGUAGE]
    return text.format(**params) if params else text
