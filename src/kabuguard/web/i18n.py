"""Japanese-first text for the customer site, with English.

One catalogue in code rather than gettext .po files: the site has a few hundred
strings, a test checks that every key has both languages, and there is no compile
step for a newcomer to forget.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kabuguard.domain.events import JST

LANGUAGES = ("ja", "en")
LANG_COOKIE_NAME = "kg_lang"
DEFAULT_LANGUAGE = "ja"

MESSAGES: dict[str, dict[str, str]] = {
    "site.name": {"ja": "かぶガード証券", "en": "Kabuguard Securities"},
    "site.tagline": {"ja": "リファレンス・オンライン証券（デモ）",
                     "en": "Reference online brokerage (demo)"},
    "site.genuine": {
        "ja": "当社からのメール・SMSにログイン用のリンクは一切記載しません。"
              "ブックマークまたは公式アプリからアクセスしてください。",
        "en": "Our e-mails and text messages never contain login links. "
              "Use your bookmark or the official app."},
    "nav.portfolio": {"ja": "資産状況", "en": "Portfolio"},
    "nav.trade": {"ja": "取引", "en": "Trade"},
    "nav.orders": {"ja": "注文照会", "en": "Orders"},
    "nav.cash": {"ja": "入出金", "en": "Cash"},
    "nav.bank": {"ja": "出金先口座", "en": "Bank account"},
    "nav.profile": {"ja": "登録情報", "en": "Profile"},
    "nav.security": {"ja": "セキュリティ設定", "en": "Security"},
    "login.or": {"ja": "または", "en": "or"},
    "login.passkey": {"ja": "パスキーでログイン", "en": "Log in with a passkey"},
    "login.passkey_hint": {
        "ja": "ログインIDの入力は不要です。この端末の指紋・顔認証・PINで確認します。",
        "en": "No login ID needed: confirm with this device's fingerprint, face or PIN."},
    "passkey.unsupported": {
        "ja": "お使いのブラウザはパスキーに対応していません。最新のブラウザをご利用ください。",
        "en": "This browser does not support passkeys. Please use an up-to-date browser."},
    "passkey.cancelled": {"ja": "パスキーの確認がキャンセルされたか、時間切れになりました。"
                                "もう一度お試しください。",
                          "en": "The passkey request was cancelled or timed out. "
                                "Please try again."},
    "passkey.failed": {"ja": "パスキーで確認できませんでした。もう一度お試しください。",
                       "en": "The passkey could not be verified. Please try again."},
    "security.passkeys_title": {"ja": "パスキー", "en": "Passkeys"},
    "security.passkeys_intro": {
        "ja": "パスキーは偽サイトでは使えないため、フィッシングによる不正ログインを防げます。"
              "ログイン・出金・出金先口座の変更の際にご利用いただけます。",
        "en": "A passkey cannot be used on a fake site, so it stops phishing. "
              "Use it to log in, withdraw and change your bank account."},
    "security.passkey_name": {"ja": "名前", "en": "Name"},
    "security.created": {"ja": "登録日時", "en": "Created"},
    "security.last_used": {"ja": "最終利用日時", "en": "Last used"},
    "security.never_used": {"ja": "未使用", "en": "Not used yet"},
    "security.none": {"ja": "パスキーはまだ登録されていません。",
                      "en": "You have no passkey yet."},
    "security.add_title": {"ja": "パスキーを追加", "en": "Add a passkey"},
    "security.name_hint": {"ja": "例: iPhone、会社のPC", "en": "e.g. iPhone, work laptop"},
    "security.add_submit": {"ja": "パスキーを追加", "en": "Add a passkey"},
    "security.notice_registered": {"ja": "パスキーを登録しました。",
                                   "en": "Your passkey has been added."},
    "portfolio.passkey_prompt": {
        "ja": "パスキーが未登録です。フィッシング詐欺による不正ログイン・不正出金を防ぐため、"
              "パスキーを登録してください。",
        "en": "You have no passkey. Add one to protect your account against phishing "
              "and unauthorised withdrawals."},
    "portfolio.passkey_link": {"ja": "パスキーを登録する", "en": "Add a passkey"},
    "stepup.title": {"ja": "パスキーによる本人確認", "en": "Confirm with your passkey"},
    "stepup.why": {"ja": "「{action}」を行うには、{level}による本人確認が必要です。",
                   "en": "To {action}, please confirm it is you with your {level}."},
    "stepup.stale": {"ja": "前回の本人確認から時間が経過したため、もう一度確認してください。",
                     "en": "Your last confirmation was a while ago, so please confirm again."},
    "stepup.rule": {
        "ja": "日本証券業協会のガイドラインに基づき、ログイン・出金・出金先口座の変更には"
              "フィッシングに強い認証（パスキー）をお願いしています。",
        "en": "Under the Japan Securities Dealers Association guideline, logging in, "
              "withdrawing and changing the bank account need phishing-resistant "
              "authentication (a passkey)."},
    "stepup.confirm": {"ja": "パスキーで確認", "en": "Confirm with passkey"},
    "stepup.no_passkey": {
        "ja": "この操作にはパスキーが必要ですが、まだ登録されていません。"
              "セキュリティ設定でパスキーを登録してから、もう一度お試しください。",
        "en": "This action needs a passkey, and you have none yet. Add one in the "
              "security settings, then try again."},
    "stepup.interim_until": {"ja": "代替の認証方法は {date} までご利用いただけます。",
                             "en": "The alternative method can be used until {date}."},
    "stepup.go_security": {"ja": "セキュリティ設定へ", "en": "Go to security settings"},
    "stepup.cancel": {"ja": "中止してトップへ戻る", "en": "Cancel and go back"},
    "action.login": {"ja": "ログイン", "en": "log in"},
    "action.order": {"ja": "注文", "en": "place an order"},
    "action.cancel_order": {"ja": "注文の取消", "en": "cancel an order"},
    "action.deposit": {"ja": "入金", "en": "deposit"},
    "action.withdrawal": {"ja": "出金", "en": "withdraw"},
    "action.bank_account_change": {"ja": "出金先口座の変更", "en": "change your bank account"},
    "action.contact_change": {"ja": "連絡先の変更", "en": "change your contact details"},
    "action.password_change": {"ja": "パスワードの変更", "en": "change your password"},
    "action.mfa_enroll": {"ja": "認証方法の登録", "en": "add a sign-in method"},
    "action.mfa_remove": {"ja": "認証方法の削除", "en": "remove a sign-in method"},
    "action.recovery": {"ja": "アカウントの復旧", "en": "recover your account"},
    "error.challenge_invalid": {
        "ja": "確認の有効期限が切れたか、すでに使用されています。もう一度お試しください。",
        "en": "This request has expired or was already used. Please start again."},
    "error.passkey_invalid": {"ja": "このパスキーは登録されていないか、確認できませんでした。",
                              "en": "This passkey is not registered or could not be verified."},
    "error.passkey_wrong_origin": {
        "ja": "当社の正規サイト以外からのパスキー認証は受け付けられません。",
        "en": "Passkey sign-in is accepted only on our genuine site."},
    "error.passkey_user_not_verified": {
        "ja": "端末での本人確認（指紋・顔認証・PIN）が必要です。",
        "en": "The device must verify you (fingerprint, face or PIN)."},
    "error.passkey_wrong_rp_id": {"ja": "このパスキーは当社のものではありません。",
                                  "en": "This passkey is not one of ours."},
    "error.passkey_challenge_mismatch": {
        "ja": "確認の内容が一致しません。もう一度お試しください。",
        "en": "The confirmation did not match. Please start again."},
    "error.passkey_sign_count_regression": {
        "ja": "このパスキーは複製された可能性があるため使用できません。お問い合わせください。",
        "en": "This passkey may have been cloned and cannot be used. Please contact us."},
    "error.passkey_backup_eligibility_changed": {
        "ja": "このパスキーの状態が変わったため使用できません。お問い合わせください。",
        "en": "This passkey has changed and cannot be used. Please contact us."},
    "error.passkey_malformed_credential": {
        "ja": "パスキーの応答を読み取れませんでした。もう一度お試しください。",
        "en": "The passkey's answer could not be read. Please try again."},
    "error.session_invalid": {"ja": "セッションが終了しました。再度ログインしてください。",
                              "en": "Your session has ended. Please log in again."},
    "nav.logout": {"ja": "ログアウト", "en": "Log out"},
    "nav.language": {"ja": "English", "en": "日本語"},
    "login.title": {"ja": "ログイン", "en": "Log in"},
    "login.login_id": {"ja": "ログインID", "en": "Login ID"},
    "login.password": {"ja": "パスワード", "en": "Password"},
    "login.submit": {"ja": "ログイン", "en": "Log in"},
    "login.failed": {
        "ja": "ログインIDまたはパスワードが正しくないか、連続して失敗したためパスワードでの"
              "ログインが制限されています。パスキーでのログインはご利用いただけます。",
        "en": "The login ID or password is incorrect, or password login is locked after "
              "repeated failures. A passkey login still works."},
    "login.logged_out": {"ja": "ログアウトしました。", "en": "You have logged out."},
    "login.session_ended": {"ja": "セッションが終了しました。再度ログインしてください。",
                            "en": "Your session has ended. Please log in again."},
    "login.previous": {"ja": "前回ログイン: {when}（{where}）",
                       "en": "Previous login: {when} ({where})"},
    "login.previous_none": {"ja": "今回が初めてのログインです。",
                            "en": "This is your first login."},
    "login.previous_hint": {
        "ja": "心当たりのないログインがあれば、すぐにお問い合わせください。",
        "en": "If you do not recognise this login, contact us at once."},
    "portfolio.total": {"ja": "評価額合計", "en": "Total value"},
    "portfolio.cash": {"ja": "預り金", "en": "Cash"},
    "portfolio.available": {"ja": "買付余力", "en": "Available to trade"},
    "portfolio.holdings_value": {"ja": "保有株式評価額", "en": "Holdings value"},
    "portfolio.price": {"ja": "現在値", "en": "Price"},
    "portfolio.value": {"ja": "評価額", "en": "Value"},
    "portfolio.gain": {"ja": "評価損益", "en": "Gain/loss"},
    "portfolio.holdings": {"ja": "保有株式", "en": "Holdings"},
    "portfolio.empty": {"ja": "保有銘柄はありません。", "en": "You hold no shares."},
    "login.second_step_otp": {
        "ja": "続けて、認証アプリに表示されているコードを入力してください。",
        "en": "Now enter the code shown in your authenticator app."},
    "login.second_step_passkey": {
        "ja": "このお取引口座のログインにはパスキーが必要です。「パスキーでログイン」をお使いください。",
        "en": "Logging in to this account needs a passkey: use \"Log in with a passkey\"."},
    "stepup.totp_label": {"ja": "認証アプリに表示されている6桁のコード",
                          "en": "The 6-digit code shown in your authenticator app"},
    "stepup.totp_submit": {"ja": "確認して続ける", "en": "Confirm and continue"},
    "stepup.no_app": {"ja": "認証アプリが登録されていません。セキュリティ設定で登録してください。",
                      "en": "No authenticator app is registered. Register one in Security."},
    "security.totp_title": {"ja": "認証アプリ", "en": "Authenticator app"},
    "security.totp_intro": {
        "ja": "Google Authenticator などの認証アプリで、6桁のワンタイムコードを表示します。"
              "フィッシングにはパスキーの方が強いため、パスキーとの併用をおすすめします。",
        "en": "An app such as Google Authenticator shows 6-digit one-time codes. Passkeys "
              "resist phishing better: use both."},
    "security.totp_enrolled": {"ja": "認証アプリは登録済みです。",
                               "en": "An authenticator app is registered."},
    "security.totp_start": {"ja": "認証アプリを登録", "en": "Register an authenticator app"},
    "security.totp_secret": {
        "ja": "認証アプリにこのキーを入力し、表示されたコードを入力してください。"
              "このキーは再表示されません。",
        "en": "Enter this key in your app, then the code it shows. The key is not shown again."},
    "security.totp_qr_alt": {"ja": "認証アプリで読み取るQRコード",
                             "en": "QR code to scan with your authenticator app"},
    "security.totp_code": {"ja": "表示されたコード", "en": "Code shown"},
    "security.totp_confirm": {"ja": "登録する", "en": "Register"},
    "security.notice_totp_enrolled": {"ja": "認証アプリを登録しました。",
                                      "en": "The authenticator app is registered."},
    "security.sessions_title": {"ja": "ログイン中のセッション", "en": "Signed-in sessions"},
    "security.sessions_intro": {
        "ja": "心当たりのないセッションは終了し、パスワードを変更してください。",
        "en": "End any session you do not recognise, and change your password."},
    "security.session_started": {"ja": "ログイン日時", "en": "Signed in"},
    "security.session_last_seen": {"ja": "最終利用", "en": "Last active"},
    "security.session_where": {"ja": "接続元", "en": "From"},
    "security.this_session": {"ja": "このセッション", "en": "This session"},
    "security.session_revoke": {"ja": "終了する", "en": "End"},
    "security.logout_everywhere": {"ja": "すべての端末からログアウト",
                                   "en": "Log out on every device"},
    "security.notice_session_revoked": {"ja": "セッションを終了しました。",
                                        "en": "The session has ended."},
    "security.password_title": {"ja": "パスワードの変更", "en": "Change password"},
    "security.password_intro": {
        "ja": "10文字以上。流出が確認されているパスワードは使えません。"
              "変更すると他の端末はログアウトされます。",
        "en": "At least 10 characters. Passwords known from leaks are refused. Other devices "
              "are logged out."},
    "security.current_password": {"ja": "現在のパスワード", "en": "Current password"},
    "security.new_password": {"ja": "新しいパスワード", "en": "New password"},
    "security.password_submit": {"ja": "変更する", "en": "Change"},
    "security.notice_password_changed": {"ja": "パスワードを変更しました。",
                                         "en": "Your password has been changed."},
    "common.yen": {"ja": "円", "en": "JPY"},
    "common.submit": {"ja": "送信", "en": "Submit"},
    "common.back": {"ja": "戻る", "en": "Back"},
    "common.none": {"ja": "ありません", "en": "None"},
    "error.title": {"ja": "エラー", "en": "Error"},
    "error.not_found": {"ja": "ページが見つかりません。", "en": "Page not found."},
    "error.csrf_failed": {
        "ja": "フォームの有効期限が切れたか、このサイト以外から送信されました。"
              "ページを再読み込みしてやり直してください。",
        "en": "The form has expired or did not come from this site. "
              "Please reload the page and try again."},
    "error.insufficient_cash": {"ja": "買付余力（出金可能額）が不足しています。",
                                "en": "Not enough cash."},
    "error.insufficient_holdings": {"ja": "売却可能な株数が不足しています。",
                                    "en": "Not enough shares to sell."},
    "error.unknown_symbol": {"ja": "銘柄コードが見つかりません。",
                             "en": "Unknown symbol."},
    "error.bank_account_cooling_off": {
        "ja": "出金先口座の変更直後のため、出金はまだできません（{usable_from} 以降に可能）。",
        "en": "The bank account was changed recently; withdrawals are possible from "
              "{usable_from}."},
    "error.step_up_required": {
        "ja": "この操作には追加の本人認証（{level_name}）が必要です。",
        "en": "This action needs an additional authentication ({level_name})."},
    "error.action_denied": {"ja": "この操作は受け付けられません。お問い合わせください。",
                            "en": "This action is not allowed. Please contact us."},
    "error.action_held": {
        "ja": "この操作は確認のため保留されました。担当者から連絡いたします。",
        "en": "This action is held for review. We will contact you."},
    "error.account_frozen": {
        "ja": "安全のため、お客様の口座でのお取引・出金・登録情報の変更を停止しています。"
              "再開にはお電話でのご本人確認が必要です。お客様サポート（電話 {phone}）へお電話ください。",
        "en": "For your protection, trading, withdrawals and changes of your details are "
              "stopped on your account. Please call customer support on {phone} to "
              "confirm your identity and lift the freeze."},
    "error.action_denied.risk_session_revoked": {
        "ja": "ログイン時とは異なる環境からの操作のため、安全のためログインを終了しました。"
              "ご本人の操作であれば、いつもお使いの端末からもう一度ログインしてください。",
        "en": "This session was used from somewhere other than where it logged in, so for "
              "your safety it has been ended. If it was you, log in again from the device "
              "you usually use."},
    "login.second_step_passkey_risk": {
        "ja": "普段と異なる環境からのログインのため、パスキーでの認証が必要です。"
              "パスキーをお持ちでない場合は、いつもお使いの端末からログインしてパスキーを登録するか、"
              "お客様サポート（電話 {phone}）へお電話ください。",
        "en": "This login comes from an unusual environment, so it needs a passkey. If you "
              "have none yet, log in from the device you usually use and register one there, "
              "or call customer support on {phone}."},
    "level.password": {"ja": "パスワード", "en": "password"},
    "level.otp": {"ja": "ワンタイムコード等", "en": "one-time code"},
    "level.phishing_resistant": {"ja": "パスキー", "en": "passkey"},
    "error.forbidden": {"ja": "この操作は現在行えません。お問い合わせください。",
                        "en": "This action is not possible now. Please contact us."},
    "invalid.current_password": {"ja": "現在のパスワードが正しくありません。",
                                 "en": "The current password is not correct."},
    "error.weak_password": {
        "ja": "このパスワードは使えません。10文字以上で、流出が確認されていないものを選んでください。",
        "en": "This password cannot be used: choose one of at least 10 characters that is not "
              "known from leaks."},
    "error.invalid_input": {"ja": "入力内容を確認してください。",
                            "en": "Please check what you entered."},
    "error.idempotency_key_reused": {"ja": "同じ注文番号で別の内容が送信されました。",
                                     "en": "The same request key was used for a "
                                           "different request."},
    "field.quantity": {"ja": "数量", "en": "Quantity"},
    "field.limit_price": {"ja": "指値", "en": "Limit price"},
    "field.amount_jpy": {"ja": "金額", "en": "Amount"},
    "field.symbol": {"ja": "銘柄", "en": "Symbol"},
    "field.side": {"ja": "売買", "en": "Side"},
    "field.order_type": {"ja": "注文種別", "en": "Order type"},
    "field.email": {"ja": "メールアドレス", "en": "E-mail"},
    "field.phone": {"ja": "電話番号", "en": "Phone"},
    "field.bank_name": {"ja": "金融機関名", "en": "Bank"},
    "field.branch_code": {"ja": "支店番号", "en": "Branch code"},
    "field.number": {"ja": "口座番号", "en": "Account number"},
    "field.holder": {"ja": "口座名義", "en": "Account holder"},
    "field.password": {"ja": "パスワード", "en": "Password"},
    "field.login_id": {"ja": "ログインID", "en": "Login ID"},
    # -- navigation and shared words (customer site pages) ------------------------------
    "nav.label": {"ja": "メインメニュー", "en": "Main menu"},
    "side.buy": {"ja": "買付", "en": "Buy"},
    "side.sell": {"ja": "売却", "en": "Sell"},
    "order_type.market": {"ja": "成行", "en": "Market"},
    "order_type.limit": {"ja": "指値", "en": "Limit"},
    "order.status.new": {"ja": "受付中", "en": "Received"},
    "order.status.queued": {"ja": "待機中（市場開始待ち）", "en": "Queued (until the market opens)"},
    "order.status.open": {"ja": "注文中", "en": "Open"},
    "order.status.filled": {"ja": "約定済", "en": "Filled"},
    "order.status.cancelled": {"ja": "取消済", "en": "Cancelled"},
    "order.status.rejected": {"ja": "失効", "en": "Expired"},
    "order.status.held": {"ja": "確認のため保留中", "en": "Held for review"},
    "market.TSE_PRIME": {"ja": "東証プライム", "en": "TSE Prime"},
    "market.TSE_STANDARD": {"ja": "東証スタンダード", "en": "TSE Standard"},
    "market.TSE_GROWTH": {"ja": "東証グロース", "en": "TSE Growth"},
    "market.SSE": {"ja": "上海", "en": "Shanghai"},
    "market.SZSE": {"ja": "深圳", "en": "Shenzhen"},
    "market.HKEX": {"ja": "香港", "en": "Hong Kong"},
    "market.NYSE": {"ja": "NYSE", "en": "NYSE"},
    "market.NASDAQ": {"ja": "NASDAQ", "en": "NASDAQ"},
    "channel.web": {"ja": "Webサイト", "en": "Website"},
    "channel.app": {"ja": "アプリ", "en": "App"},
    "channel.api": {"ja": "API", "en": "API"},
    "channel.backup_site": {"ja": "バックアップサイト", "en": "Backup site"},
    "channel.call_center": {"ja": "コールセンター", "en": "Call centre"},
    # -- trade ------------------------------------------------------------------------
    "trade.search_label": {"ja": "銘柄検索", "en": "Find a stock"},
    "trade.search_placeholder": {"ja": "銘柄コード・銘柄名（例: 7203、トヨタ）",
                                 "en": "Code or name (e.g. 7203, Toyota)"},
    "trade.search": {"ja": "検索", "en": "Search"},
    "trade.results": {"ja": "「{query}」の検索結果", "en": "Results for “{query}”"},
    "trade.no_results": {"ja": "該当する銘柄はありません。", "en": "No matching stocks."},
    "trade.from_holdings": {"ja": "保有銘柄から選ぶ", "en": "Choose from your holdings"},
    "trade.search_first": {"ja": "銘柄コードまたは銘柄名で検索してください。",
                           "en": "Search by code or name to start."},
    "trade.market_open": {"ja": "取引時間中", "en": "Market open"},
    "trade.market_closed": {"ja": "取引時間外", "en": "Market closed"},
    "trade.next_open": {"ja": "次回取引開始: {when}", "en": "Opens {when}"},
    "trade.updated": {"ja": "更新", "en": "Updated"},
    "trade.lot_size": {"ja": "売買単位", "en": "Trading unit"},
    "trade.shares": {"ja": "{n}株", "en": "{n} shares"},
    "trade.held": {"ja": "保有数量", "en": "You hold"},
    "trade.held_detail": {"ja": "{n}株（売却可能 {free}株）",
                          "en": "{n} shares ({free} can be sold)"},
    "trade.order_title": {"ja": "注文入力", "en": "Order"},
    "trade.quantity_hint": {"ja": "（{lot}株単位）", "en": "(multiples of {lot})"},
    "trade.limit_hint": {"ja": "（指値注文のみ・{currency}）", "en": "(limit orders only, {currency})"},
    "trade.estimate": {"ja": "概算金額", "en": "Estimated amount"},
    "trade.estimate_note": {
        "ja": "概算金額は現在値（指値注文は指値）×数量です。約定金額は約定時の価格で決まります。"
              "取引時間外の成行買付は、現在値の1.2倍の金額を注文中として確保します。",
        "en": "The estimate is the current price (or your limit) times the quantity; the "
              "amount charged is set by the price at execution. A market buy placed while "
              "the market is closed sets aside 1.2 times the current price."},
    "trade.submit": {"ja": "注文する", "en": "Place order"},
    # -- orders -----------------------------------------------------------------------
    "orders.title": {"ja": "注文一覧", "en": "Orders"},
    "orders.fills_title": {"ja": "約定履歴", "en": "Executions"},
    "orders.placed_at": {"ja": "注文日時", "en": "Placed"},
    "orders.status": {"ja": "状態", "en": "Status"},
    "orders.actions": {"ja": "操作", "en": "Actions"},
    "orders.cancel": {"ja": "取消", "en": "Cancel"},
    "orders.filled_at": {"ja": "約定日時", "en": "Executed"},
    "orders.fill_price": {"ja": "約定単価", "en": "Price"},
    "orders.fill_amount": {"ja": "約定金額", "en": "Amount"},
    "orders.none": {"ja": "注文はまだありません。", "en": "No orders yet."},
    "orders.no_fills": {"ja": "約定はまだありません。", "en": "No executions yet."},
    "orders.notice_placed": {"ja": "ご注文を受け付けました。", "en": "Your order was received."},
    "orders.notice_cancelled": {"ja": "注文を取り消しました。", "en": "The order was cancelled."},
    "orders.notice_held": {
        "ja": "ご注文は確認のため保留しました。担当者が確認のうえ執行します。"
              "お心当たりがない場合は、すぐに当社にお電話ください。",
        "en": "Your order is held for review; we will execute it once we have checked it. "
              "If you did not place it, call us at once."},
    "order.title": {"ja": "注文内容", "en": "Order details"},
    "order.id": {"ja": "注文番号", "en": "Order number"},
    "order.estimate": {"ja": "注文時の概算金額", "en": "Estimate when placed"},
    "order.filled_detail": {"ja": "約定しました: {qty}株を{price}で{side}（約定金額 {amount}）。",
                            "en": "Executed: {side} {qty} shares at {price} ({amount})."},
    "order.queued_detail": {
        "ja": "取引時間外のため、市場が開くまで待機しています（次回取引開始: {when}）。"
              "その時点の価格で約定します。",
        "en": "The market is closed: the order waits until it opens ({when}) and executes "
              "at that price."},
    "order.open_detail": {"ja": "指値 {price} に達するまで注文中です。",
                          "en": "Open until the price reaches your limit of {price}."},
    "order.cancelled_detail": {"ja": "この注文は取り消されました。",
                               "en": "This order was cancelled."},
    "order.rejected_detail": {
        "ja": "約定時に買付余力または売却可能数量が不足したため、この注文は失効しました。",
        "en": "This order expired: at execution there was not enough cash or shares."},
    "order.to_orders": {"ja": "注文照会へ", "en": "All orders"},
    "order.trade_again": {"ja": "この銘柄を取引", "en": "Trade this stock"},
    # -- cash -------------------------------------------------------------------------
    "cash.reserved": {"ja": "注文中の拘束金額", "en": "Set aside for orders"},
    "cash.available": {"ja": "出金可能額", "en": "Available"},
    "cash.withdraw_title": {"ja": "出金", "en": "Withdraw"},
    "cash.withdraw_to": {"ja": "出金先（登録口座）", "en": "To your registered account"},
    "cash.branch": {"ja": "支店 {code}", "en": "branch {code}"},
    "cash.cooling_off": {
        "ja": "出金先口座が最近変更されたため、この口座への出金は {when} 以降に可能です。"
              "心当たりのない変更であれば、すぐにお問い合わせください。",
        "en": "The bank account was changed recently: withdrawals to it are possible from "
              "{when}. If you did not make this change, contact us at once."},
    "cash.withdraw_amount": {"ja": "出金額（円）", "en": "Amount (yen)"},
    "cash.available_hint": {"ja": "（出金可能額 {amount}）", "en": "(available: {amount})"},
    "cash.withdraw_submit": {"ja": "出金する", "en": "Withdraw"},
    "cash.bank_link": {"ja": "出金先口座の確認・変更", "en": "View or change the bank account"},
    "cash.no_bank": {"ja": "出金先口座が登録されていません。",
                     "en": "No bank account is registered."},
    "cash.demo": {"ja": "デモ", "en": "Demo"},
    "cash.deposit_title": {"ja": "入金（デモ用の模擬入金）", "en": "Deposit (simulated, demo)"},
    "cash.deposit_note": {
        "ja": "これはデモ用の模擬入金です。実際のお金は動きません。"
              "実際の証券会社では銀行振込・即時入金で入金します。",
        "en": "This is a simulated deposit for the demo; no real money moves. A real "
              "broker receives deposits by bank transfer."},
    "cash.deposit_amount": {"ja": "入金額（円）", "en": "Amount (yen)"},
    "cash.deposit_submit": {"ja": "模擬入金する", "en": "Deposit (demo)"},
    "cash.ledger_title": {"ja": "入出金履歴", "en": "Cash history"},
    "cash.ts": {"ja": "日時", "en": "Time"},
    "cash.kind": {"ja": "区分", "en": "Type"},
    "cash.kind.deposit": {"ja": "入金", "en": "Deposit"},
    "cash.kind.withdrawal": {"ja": "出金", "en": "Withdrawal"},
    "cash.kind.buy": {"ja": "買付代金", "en": "Purchase"},
    "cash.kind.sell": {"ja": "売却代金", "en": "Sale"},
    "cash.balance_after": {"ja": "残高", "en": "Balance"},
    "cash.order_link": {"ja": "注文", "en": "order"},
    "cash.no_movements": {"ja": "入出金履歴はありません。", "en": "No cash movements yet."},
    "cash.notice_deposited": {"ja": "模擬入金を反映しました。",
                              "en": "The simulated deposit was credited."},
    "cash.notice_withdrawal_held": {
        "ja": "出金のご依頼は、確認のため保留しました。担当者が確認のうえ送金します。"
              "お心当たりがない場合は、すぐに当社にお電話ください。",
        "en": "Your withdrawal is held for review; we will send it once we have checked it. "
              "If you did not ask for it, call us at once."},
    "cash.notice_withdrawn": {"ja": "出金を受け付けました。登録口座へ送金します。",
                              "en": "Withdrawal accepted; the money goes to your registered "
                                    "account."},
    # -- bank account -----------------------------------------------------------------
    "bank.current_title": {"ja": "登録中の出金先口座", "en": "Registered account"},
    "bank.ordinary": {"ja": "普通", "en": "Ordinary"},
    "bank.registered_at": {"ja": "登録日時", "en": "Registered"},
    "bank.usable_from": {"ja": "出金可能になる日時", "en": "Usable from"},
    "bank.waiting": {"ja": "待機期間中", "en": "Waiting period"},
    "bank.usable": {"ja": "出金可能", "en": "Usable"},
    "bank.change_title": {"ja": "出金先口座の変更", "en": "Change the bank account"},
    "bank.cooling_note": {
        "ja": "安全のため、変更後の口座へは変更から{hours}時間出金できません"
              "（今変更した場合は {when} 以降に出金可能）。",
        "en": "For your safety, withdrawals to a new account are possible only {hours} "
              "hours after the change (if you change it now: from {when})."},
    "bank.notice_note": {
        "ja": "出金先口座の変更は、不正出金の手口として悪用されます。"
              "心当たりのない変更があれば、すぐにお問い合わせください。",
        "en": "Changing the withdrawal account is a common step in account takeover. If "
              "you see a change you did not make, contact us at once."},
    "bank.bank_placeholder": {"ja": "例: みずほ銀行", "en": "e.g. Mizuho Bank"},
    "bank.branch_hint": {"ja": "（3桁）", "en": "(3 digits)"},
    "bank.number_hint": {"ja": "（普通預金・7桁）", "en": "(ordinary account, 7 digits)"},
    "bank.holder_hint": {"ja": "（カタカナ）", "en": "(as registered at the bank)"},
    "bank.submit": {"ja": "出金先口座を変更する", "en": "Change the account"},
    "bank.notice_changed": {"ja": "出金先口座を変更しました。",
                            "en": "The bank account was changed."},
    # -- profile ----------------------------------------------------------------------
    "profile.customer_title": {"ja": "お客さま情報", "en": "Your details"},
    "profile.name": {"ja": "氏名", "en": "Name"},
    "profile.email_title": {"ja": "メールアドレスの変更", "en": "Change e-mail"},
    "profile.phone_title": {"ja": "電話番号の変更", "en": "Change phone"},
    "profile.new_email": {"ja": "新しいメールアドレス", "en": "New e-mail address"},
    "profile.new_phone": {"ja": "新しい電話番号", "en": "New phone number"},
    "profile.phone_hint": {"ja": "（ハイフンなし可）", "en": "(digits; hyphens are fine)"},
    "profile.change": {"ja": "変更する", "en": "Change"},
    "profile.notice_email_changed": {"ja": "メールアドレスを変更しました。",
                                     "en": "Your e-mail address was changed."},
    "profile.notice_phone_changed": {"ja": "電話番号を変更しました。",
                                     "en": "Your phone number was changed."},
    "profile.history_title": {"ja": "ログイン履歴（過去3か月）",
                              "en": "Login history (last 3 months)"},
    "profile.history_since": {"ja": "{since} 以降のログインを表示しています。",
                              "en": "Logins since {since}."},
    "profile.history_ts": {"ja": "日時", "en": "Time"},
    "profile.history_ip": {"ja": "IPアドレス", "en": "IP address"},
    "profile.history_browser": {"ja": "ブラウザ", "en": "Browser"},
    "profile.history_channel": {"ja": "経路", "en": "Channel"},
    "profile.history_result": {"ja": "結果", "en": "Result"},
    "profile.login_ok": {"ja": "成功", "en": "Success"},
    "profile.login_failed": {"ja": "失敗", "en": "Failed"},
    # -- form errors (Japanese per field; English uses the service's message) ---------
    "error.insufficient_cash_detail": {
        "ja": "買付余力（出金可能額）が不足しています（必要額 {needed}、利用可能額 {available}）。",
        "en": "Not enough cash: {needed} needed, {available} available."},
    "error.insufficient_holdings_detail": {
        "ja": "売却可能な株数が不足しています（売却可能 {available}株）。",
        "en": "Not enough shares to sell: {available} can be sold."},
    "error.order_not_found": {"ja": "該当する注文がありません。", "en": "No such order."},
    "invalid.quantity": {
        "ja": "数量を確認してください（売買単位の倍数で、1回の注文の上限以内）。",
        "en": "Please check the quantity."},
    "invalid.quantity_lot": {"ja": "数量は売買単位（{lot_size}株）の倍数で入力してください。",
                             "en": "The quantity must be a multiple of {lot_size} shares."},
    "invalid.limit_price": {"ja": "指値を正しく入力してください（呼値の単位、0より大きい値）。",
                            "en": "Please enter a valid limit price."},
    "invalid.side": {"ja": "「買付」か「売却」を選んでください。", "en": "Choose buy or sell."},
    "invalid.order_type": {"ja": "「成行」か「指値」を選んでください。",
                           "en": "Choose market or limit."},
    "invalid.order_id": {"ja": "この注文は取り消せません（約定済・取消済・失効のいずれかです）。",
                         "en": "This order can no longer be cancelled."},
    "invalid.idempotency_key": {"ja": "フォームが正しくありません。ページを再読み込みしてください。",
                                "en": "The form is not valid. Please reload the page."},
    "invalid.amount_jpy": {"ja": "金額は1円以上の整数（上限以内）で入力してください。",
                           "en": "Enter a whole number of yen above zero."},
    "invalid.bank_account": {"ja": "出金先口座が登録されていません。",
                             "en": "No bank account is registered for withdrawals."},
    "invalid.bank_name": {"ja": "金融機関名を入力してください。", "en": "Enter the bank's name."},
    "invalid.branch_code": {"ja": "支店番号は3桁の数字で入力してください。",
                            "en": "The branch code has 3 digits."},
    "invalid.number": {"ja": "口座番号は7桁の数字で入力してください。",
                       "en": "The account number has 7 digits."},
    "invalid.holder": {"ja": "口座名義を入力してください。",
                       "en": "Enter the account holder's name."},
    "invalid.email": {"ja": "メールアドレスの形式が正しくありません。",
                      "en": "The e-mail address is not valid."},
    "invalid.phone": {"ja": "電話番号は10〜15桁の数字で入力してください。",
                      "en": "The phone number must have 10 to 15 digits."},
    # --- account recovery ---
    "recovery.link": {"ja": "スマートフォン・パスキーの端末をなくした場合",
                      "en": "Lost your phone or passkey device?"},
    "recovery.title": {"ja": "アカウントの復旧（端末の紛失）",
                       "en": "Account recovery (lost device)"},
    "recovery.intro": {
        "ja": "スマートフォンやパスキーを登録した端末をなくした場合に、新しい携帯電話番号で"
              "ご利用を再開するための手続きです。パスキーが使える端末が残っている場合は、"
              "この手続きは不要です。ログイン画面の「パスキーでログイン」をお使いください。",
        "en": "Use this if you lost the phone or the device that holds your passkey, to "
              "carry on with a new mobile number. If a device with your passkey still "
              "works, you do not need this: use \"Log in with a passkey\" instead."},
    "recovery.step_password": {"ja": "ログインID・パスワードと新しい携帯電話番号を入力します。",
                               "en": "Enter your login ID, password and new mobile number."},
    "recovery.step_code": {
        "ja": "ご登録のメールアドレスに届く確認コード（{minutes}分間有効）を入力します。",
        "en": "Enter the verification code sent to your registered e-mail address "
              "(valid {minutes} minutes)."},
    "recovery.step_cooling_off": {
        "ja": "復旧後{hours}時間は、安全のため出金・出金先口座の変更・連絡先の変更・"
              "認証方法の削除をお受けできません（お取引は可能です）。",
        "en": "For {hours} hours after the recovery, withdrawals and changes of the "
              "withdrawal account, contact details and sign-in methods are paused for "
              "your safety (trading stays possible)."},
    "recovery.warning": {
        "ja": "当社がこの手続きをメール・SMS・電話でお願いすることはありません。"
              "誰かに指示されて操作している場合は、中止して当社にお電話ください。",
        "en": "We never ask you to do this by e-mail, text message or phone call. If "
              "someone told you to do it, stop and call us."},
    "recovery.new_phone": {"ja": "新しい携帯電話番号", "en": "New mobile number"},
    "recovery.new_phone_hint": {"ja": "（ハイフンなしでも可）", "en": "(digits, hyphens allowed)"},
    "recovery.start_submit": {"ja": "確認コードを送信", "en": "Send the verification code"},
    "recovery.no_email": {
        "ja": "ご登録のメールアドレスも使えない場合は、ご本人確認のためお電話でお手続きください。"
              "メールアドレスはこの画面では変更できません。",
        "en": "If you cannot use your registered e-mail address either, please call us to "
              "verify your identity. The e-mail address cannot be changed here."},
    "recovery.back_to_login": {"ja": "ログイン画面に戻る", "en": "Back to the login page"},
    "recovery.code_sent": {
        "ja": "ご登録のメールアドレスに{digits}桁の確認コードを送りました。",
        "en": "We sent a {digits}-digit verification code to your registered e-mail address."},
    "recovery.code_valid_until": {"ja": "有効期限: {when}", "en": "Valid until {when}."},
    "recovery.code_phishing": {
        "ja": "確認コードは、この画面以外には入力しないでください。当社の社員が確認コードを"
              "お尋ねすることはありません。",
        "en": "Enter the code on this page only. Our staff will never ask you for it."},
    "recovery.code_label": {"ja": "確認コード（{digits}桁）",
                            "en": "Verification code ({digits} digits)"},
    "recovery.complete_submit": {"ja": "確認して復旧する", "en": "Verify and recover"},
    "recovery.start_again": {"ja": "最初からやり直す", "en": "Start again"},
    "recovery.code_wrong": {
        "ja": "確認コードが正しくありません（あと{attempts_left}回入力できます）。",
        "en": "The code is not correct ({attempts_left} attempts left)."},
    "recovery.code_format": {"ja": "確認コードは{digits}桁の数字で入力してください。",
                             "en": "Enter the {digits}-digit code using digits only."},
    "recovery.code_expired": {
        "ja": "確認コードの有効期限が切れました。最初からやり直してください。",
        "en": "The code has expired. Please start again."},
    "recovery.code_too_many": {
        "ja": "確認コードの入力が規定の回数を超えました。最初からやり直してください。",
        "en": "Too many wrong codes. Please start again."},
    "recovery.invalid": {
        "ja": "この復旧手続きは無効になりました（完了済み、期限切れ、または新しい手続きが"
              "開始されました）。最初からやり直してください。",
        "en": "This recovery request is no longer valid (completed, expired or replaced by "
              "a newer one). Please start again."},
    "recovery.not_available": {
        "ja": "このお取引口座は、オンラインでの復旧をご利用いただけません。お電話でお手続き"
              "ください。",
        "en": "Online recovery is not available for this account. Please call us."},
    "recovery.rate_limited": {
        "ja": "本日の復旧手続きの回数が上限に達しました。お電話でお手続きください。",
        "en": "Too many recovery requests for this account today. Please call us."},
    "recovery.done_title": {"ja": "アカウントを復旧しました", "en": "Your account is recovered"},
    "recovery.done": {
        "ja": "携帯電話番号を変更しました。なくした端末にあった認証アプリの登録は解除し、"
              "他の端末のログインはすべて終了しています。",
        "en": "Your mobile number is changed. Any authenticator app on the lost device is "
              "removed, and every other login has ended."},
    "recovery.next_title": {"ja": "次に行うこと", "en": "What to do next"},
    "recovery.next_passkey": {
        "ja": "新しい端末でパスキーを登録してください。パスキーがないと、次回からログインできない"
              "場合があります。",
        "en": "Register a passkey on your new device now: without one you may not be able "
              "to log in next time."},
    "recovery.next_passkey_link": {"ja": "パスキーを登録する（セキュリティ設定）",
                                   "en": "Register a passkey (Security)"},
    "recovery.app_removed": {
        "ja": "認証アプリを使う場合は、新しい端末でセキュリティ設定から登録し直してください。",
        "en": "To use an authenticator app, register it again on your new device under "
              "Security."},
    "recovery.review_title": {"ja": "登録済みのパスキーのご確認",
                              "en": "Check your registered passkeys"},
    "recovery.review_intro": {
        "ja": "パスキーは、同期により他の端末で引き続き使える場合があるため、削除していません。",
        "en": "Your passkeys were kept: a synced passkey may still work on your other "
              "devices."},
    "recovery.review_unknown": {
        "ja": "心当たりのないパスキーがある場合は、すぐに当社にお電話ください。",
        "en": "If you do not recognise a passkey, call us at once."},
    "recovery.banner": {
        "ja": "アカウントの復旧から間もないため、{when}まで出金・出金先口座の変更・連絡先の変更・"
              "認証方法の削除を停止しています。お心当たりのない場合は、すぐに当社にお電話ください。",
        "en": "Because your account was recovered recently, withdrawals and changes of the "
              "withdrawal account, contact details and sign-in methods are paused until "
              "{when}. If this was not you, call us at once."},
    "error.action_restricted": {
        "ja": "{until_jst}まで、{action_label}はお受けできません。",
        "en": "You cannot {action_label} until {until_jst}."},
    "error.action_restricted.recovery_cooling_off": {
        "ja": "アカウントの復旧から間もないため、{until_jst}まで{action_label}はお受けできません。"
              "お心当たりのない場合は、すぐに当社にお電話ください。",
        "en": "Your account was recovered recently: you cannot {action_label} until "
              "{until_jst}. If this was not you, call us at once."},
    # --- one-time codes and emoji ---
    "otp.second_step_choose": {
        "ja": "続けて、追加の本人確認を行います。確認の方法を選んでください。",
        "en": "Now confirm that it is you: choose how."},
    "otp.send_email_otp": {"ja": "メールで確認コードを受け取る", "en": "Send me a code by e-mail"},
    "otp.send_sms_otp": {"ja": "SMSで確認コードを受け取る", "en": "Send me a code by SMS"},
    "otp.send_emoji": {"ja": "メールで絵文字を受け取る", "en": "Send me emoji by e-mail"},
    "otp.no_links": {
        "ja": "当社からのメール・SMSにリンクは記載されていません。届いた内容をこの画面で入力してください。",
        "en": "Our messages never contain links: enter what you receive on this page."},
    "otp.sent_email_otp": {
        "ja": "ご登録のメールアドレスに確認コードを送信しました（有効期限 {minutes}分）。",
        "en": "We sent a code to your registered e-mail address (valid for {minutes} min)."},
    "otp.sent_sms_otp": {
        "ja": "ご登録の電話番号にSMSで確認コードを送信しました（有効期限 {minutes}分）。",
        "en": "We sent a code by SMS to your registered phone (valid for {minutes} min)."},
    "otp.sent_emoji": {
        "ja": "ご登録のメールアドレスに絵文字を送信しました（有効期限 {minutes}分）。",
        "en": "We sent emoji to your registered e-mail address (valid for {minutes} min)."},
    "otp.code_label": {"ja": "届いた確認コード（6桁）", "en": "The code you received (6 digits)"},
    "otp.emoji_instructions": {
        "ja": "メールに記載された{pick}つの絵文字を、記載された順番に選んでください。",
        "en": "Pick the {pick} emoji from the e-mail, in the order they appear there."},
    "otp.emoji_grid": {"ja": "絵文字の一覧", "en": "Emoji to pick from"},
    "otp.emoji_nth": {"ja": "{n}つ目", "en": "No. {n}"},
    "otp.emoji_clear": {"ja": "選び直す", "en": "Clear and pick again"},
    "otp.resend": {"ja": "新しいコードを送信する", "en": "Send a new code"},
    "otp.per_action": {"ja": "この操作は1回ごとに本人確認が必要です。",
                       "en": "This action needs a confirmation every single time."},
    "error.otp_resend_throttled": {
        "ja": "確認コードを送信したばかりです。{retry_after_seconds}秒後にもう一度お試しください。",
        "en": "A code was sent recently. Please try again in {retry_after_seconds} seconds."},
    "error.otp_not_requested": {
        "ja": "受付中の確認コードがありません。新しいコードを受け取ってください。",
        "en": "There is no code waiting for an answer. Request a new one."},
    "error.method_not_offered": {"ja": "この確認方法はご利用いただけません。",
                                 "en": "This way of confirming is not available."},
    "error.otp_wrong": {"ja": "確認コードが正しくありません。",
                        "en": "The code is not correct."},
    "error.emoji_wrong": {
        "ja": "選んだ絵文字、またはその順番が、送信したものと一致しません。",
        "en": "The emoji picked, or their order, do not match the ones sent."},
    "error.otp_expired": {"ja": "確認コードの有効期限が切れました。新しいコードを受け取ってください。",
                          "en": "The code has expired; request a new one."},
    "error.otp_too_many_attempts": {
        "ja": "入力の誤りが上限（{max_attempts}回）に達したため、このコードは無効になりました。"
              "新しいコードを受け取ってください。",
        "en": "Too many attempts ({max_attempts}); request a new code."},
    "error.otp_format_invalid": {"ja": "確認コードを半角数字で入力してください。",
                                 "en": "Enter the code using digits only."},
    "error.emoji_pick_invalid": {
        "ja": "画面の絵文字から、送信された順番に、同じものを重ねずに選んでください。",
        "en": "Pick the emoji shown on the screen, in the order sent, each once."},
    "otp.login_expired": {
        "ja": "このログインは有効期限が切れたか、すでに使われています。もう一度ログインしてください。",
        "en": "This login has expired. Please log in again."},
    # --- mfa removal and self lock ---
    "removal.remove": {"ja": "削除", "en": "Remove"},
    "removal.totp_remove": {"ja": "認証アプリの登録を削除", "en": "Remove the authenticator app"},
    "removal.scheduled_for": {"ja": "{date} に削除予定", "en": "To be removed on {date}"},
    "removal.pending_title": {"ja": "削除予定の認証方法", "en": "Scheduled removals"},
    "removal.pending_intro": {
        "ja": "最後のパスキー（パスキーがない場合は認証アプリ）の削除は、なりすましによる削除から"
              "お客様を守るため、一定期間の後に行います。それまでは引き続きご利用いただけ、"
              "お心当たりのない場合は取り消すことができます。",
        "en": "Removing your last passkey (or your authenticator app, if you have no passkey) "
              "takes effect only after a waiting period, to protect you from an intruder. "
              "Until then it keeps working, and you can cancel the removal if it was not you."},
    "removal.method": {"ja": "認証方法", "en": "Method"},
    "removal.method_passkey": {"ja": "パスキー", "en": "Passkey"},
    "removal.method_totp": {"ja": "認証アプリ", "en": "Authenticator app"},
    "removal.requested_at": {"ja": "受付日時", "en": "Requested"},
    "removal.effective_at": {"ja": "削除予定日時", "en": "Takes effect"},
    "removal.cancel": {"ja": "削除を取り消す", "en": "Cancel removal"},
    "removal.notice_removed": {"ja": "認証方法を削除しました。",
                               "en": "The sign-in method was removed."},
    "removal.notice_scheduled": {
        "ja": "削除を受け付けました。削除予定日時までは引き続きご利用いただけます。"
              "メールとSMSでもお知らせしました。",
        "en": "Removal scheduled. The method keeps working until then; we have also told "
              "you by e-mail and text message."},
    "removal.notice_cancelled": {"ja": "削除を取り消しました。",
                                 "en": "The removal was cancelled."},
    "error.mfa_removal_forbidden": {
        "ja": "最後の認証方法のため、当社の方針により削除できません。"
              "先にパスキーをもう1つ登録してください。",
        "en": "This is your last sign-in method of its kind and our policy does not allow "
              "removing it: register another passkey first."},
    "error.mfa_removal_already_scheduled": {"ja": "この認証方法はすでに削除予定です。",
                                            "en": "This method is already scheduled for "
                                                  "removal."},
    "error.mfa_removal_not_pending": {"ja": "この削除予定はすでに実行済みか、取り消し済みです。",
                                      "en": "This removal already took effect or was "
                                            "cancelled."},
    "error.mfa_method_not_found": {"ja": "該当する認証方法が登録されていません。",
                                   "en": "No such sign-in method is registered."},
    "error.mfa_removal_not_found": {"ja": "該当する削除予定がありません。",
                                    "en": "No such scheduled removal."},
    "history.methods": {"ja": "認証方法", "en": "Methods"},
    "history.method_password": {"ja": "パスワード", "en": "Password"},
    "history.method_totp": {"ja": "認証アプリ", "en": "Authenticator app"},
    "history.method_passkey": {"ja": "パスキー", "en": "Passkey"},
    "history.method_email_otp": {"ja": "メールのコード", "en": "E-mail code"},
    "history.method_sms_otp": {"ja": "SMSのコード", "en": "SMS code"},
    "history.method_emoji": {"ja": "絵文字認証", "en": "Emoji"},
    "history.outcome_success": {"ja": "成功", "en": "Success"},
    "history.outcome_bad_password": {"ja": "パスワード誤り", "en": "Wrong password"},
    "history.outcome_bad_second_factor": {"ja": "認証コード誤り", "en": "Wrong code"},
    "history.outcome_locked": {"ja": "ロック中", "en": "Locked"},
    "history.outcome_second_factor_required": {"ja": "追加認証待ち",
                                               "en": "Second step required"},
    "history.outcome_self_locked": {"ja": "自己ロック中のため拒否",
                                    "en": "Refused: account locked"},
    "history.outcome_unlock_only": {"ja": "ロック解除のためのログイン",
                                    "en": "Signed in to unlock"},
    "history.newer": {"ja": "新しい履歴", "en": "Newer"},
    "history.older": {"ja": "以前の履歴", "en": "Older"},
    "error.symbol_restricted": {"ja": "この銘柄のご注文は、現在お受けできません。",
                                "en": "Orders in this symbol are suspended for now."},
    "report.title": {"ja": "心当たりがない場合", "en": "This wasn't me"},
    "report.intro_history": {
        "ja": "ご自身のものではないログインがある場合は、すぐにお知らせください。"
              "口座を凍結し、すべてのログインを終了させて、被害を防ぎます。",
        "en": "If a login above was not you, tell us now: we freeze the account and end "
              "every session to stop any damage."},
    "report.intro_notice": {
        "ja": "身に覚えのない通知（ログイン・注文・出金・登録情報の変更など）を受け取った場合は、"
              "すぐにお知らせください。口座を凍結し、すべてのログインを終了させます。",
        "en": "If you received a notice (a login, an order, a withdrawal, a change of "
              "details) about something you did not do, tell us now: we freeze the account "
              "and end every session."},
    "report.confirm": {"ja": "口座が凍結され、お取引・出金ができなくなることを理解しました。",
                       "en": "I understand my account will be frozen: no trading or "
                             "withdrawals until it is reopened."},
    "report.submit": {"ja": "心当たりがない（口座を凍結する）",
                      "en": "This wasn't me (freeze my account)"},
    "report.done_title": {"ja": "口座を凍結しました", "en": "Your account is frozen"},
    "report.done": {
        "ja": "ご連絡ありがとうございます。第三者による操作を防ぐため、口座を凍結し、"
              "すべてのログインを終了しました。お手数ですが、かぶガード証券 お客様サポート"
              "（電話 {phone}、24時間受付）へお電話ください。ご本人確認のうえで再開します。"
              "当社がメールやSMSでリンクをお送りすることはありません。",
        "en": "Thank you. To stop anyone else, we have frozen your account and ended every "
              "session. Please call Kabuguard Securities customer support on {phone} (24 "
              "hours). We reopen the account once we have confirmed it is you. We never "
              "send links by e-mail or SMS."},
    "selflock.title": {"ja": "ログインの一時停止（自己ロック）", "en": "Lock my account"},
    "selflock.intro": {
        "ja": "身に覚えのないログインや取引があるときは、すぐにアカウントをロックできます。"
              "すべての端末のログインが終了し、解除するまでログイン・取引・出金・登録情報の"
              "変更はできません。",
        "en": "If you see a login or trade that was not yours, lock your account at once. "
              "Every device is logged out, and nobody can log in, trade, withdraw or change "
              "your details until you unlock it."},
    "selflock.unlock_how_passkey": {"ja": "解除するには、パスキーでログインしてください。",
                                    "en": "To unlock it, log in with your passkey."},
    "selflock.unlock_how_app": {
        "ja": "解除するには、パスワードと認証アプリのコードでログインしてください。",
        "en": "To unlock it, log in with your password and authenticator-app code."},
    "selflock.unlock_how_support": {
        "ja": "パスキーも認証アプリも登録されていないため、解除にはサポートセンターでの"
              "本人確認が必要です。",
        "en": "You have no passkey or authenticator app, so unlocking needs our support "
              "desk to verify your identity."},
    "selflock.submit": {"ja": "今すぐロックする", "en": "Lock now"},
    "selflock.link": {"ja": "ログインせずにアカウントをロックする",
                      "en": "Lock my account without logging in"},
    "selflock.form_intro": {
        "ja": "不正にログインされたおそれがあるときは、ログインIDとパスワードでアカウントを"
              "ロックできます。すべての端末のログインが終了します。",
        "en": "If you think someone else has logged in, lock your account with your login ID "
              "and password. Every device is logged out."},
    "selflock.done": {"ja": "アカウントをロックしました。すべての端末のログインを終了しました。",
                      "en": "Your account is locked and every device has been logged out."},
    "selflock.done_next": {
        "ja": "解除するには、パスキー（お持ちでない場合はパスワードと認証アプリのコード）で"
              "ログインしてください。どちらもお持ちでない場合は、サポートセンターにご連絡ください。",
        "en": "To unlock it, log in with your passkey (or, without one, your password and "
              "authenticator-app code). If you have neither, please call our support desk."},
    "selflock.refused_passkey": {
        "ja": "このアカウントはお客様のお申し出によりロックされています。"
              "解除するには、パスキーでログインしてください。",
        "en": "This account is locked at your request. To unlock it, log in with your "
              "passkey."},
    "selflock.refused_app": {
        "ja": "このアカウントはお客様のお申し出によりロックされています。"
              "解除するには、認証アプリに表示されている6桁のコードを入力してください。",
        "en": "This account is locked at your request. To unlock it, enter the 6-digit code "
              "shown in your authenticator app."},
    "selflock.refused_support": {
        "ja": "このアカウントはお客様のお申し出によりロックされています。"
              "解除には、サポートセンターでの本人確認が必要です。",
        "en": "This account is locked at your request. To unlock it, please call our "
              "support desk, which will verify your identity."},
    "error.account_locked": {"ja": "このアカウントはお客様のお申し出によりロックされています。",
                             "en": "This account is locked at your request."},
    "error.unlock_only_session": {"ja": "アカウントがロックされています。ロックの解除のみ行えます。",
                                  "en": "Your account is locked: you can only unlock it."},
    "error.unlock_expired": {
        "ja": "確認から時間が経っているため解除できません。もう一度ログインしてください。",
        "en": "Too much time has passed since you confirmed it was you. Please log in again."},
    "error.account_not_locked": {"ja": "このアカウントはロックされていません。",
                                 "en": "This account is not locked."},
    "unlock.title": {"ja": "ロックの解除", "en": "Unlock your account"},
    "unlock.intro": {"ja": "{since} からアカウントをロックしています。",
                     "en": "Your account has been locked since {since}."},
    "unlock.explain": {
        "ja": "ご本人であることを確認しました。解除すると、通常どおりご利用いただけます。"
              "お心当たりのない操作があった場合は、解除の前にサポートセンターにご連絡ください。",
        "en": "We have confirmed it is you. Once unlocked, you can use your account as usual. "
              "If you saw activity that was not yours, please call our support desk first."},
    "unlock.submit": {"ja": "ロックを解除する", "en": "Unlock"},
    "unlock.leave": {"ja": "解除せずにログアウト", "en": "Stay locked and log out"},
    "unlock.notice_unlocked": {"ja": "ロックを解除しました。", "en": "Your account is unlocked."},
    # --- leaked credentials ---
    "leaked.title": {"ja": "パスワードの変更が必要です", "en": "Please change your password"},
    "leaked.intro": {
        "ja": "お客様のログインIDとパスワードが、インターネット上で売買されている流出情報の中に"
              "見つかりました。第三者に悪用されるおそれがあるため、パスワードを変更するまで"
              "ほかのお取引・お手続きはご利用いただけません。",
        "en": "Your login ID and password were found in credentials being sold on the "
              "internet. Someone else could use them, so nothing else can be done in this "
              "account until you change your password."},
    "leaked.advice": {
        "ja": "新しいパスワードは10文字以上で、現在のものと異なるものにしてください。"
              "同じパスワードをほかのサービスでもお使いの場合は、そちらも変更してください。",
        "en": "Choose a new password of at least 10 characters, different from the "
              "current one. If you use the same password elsewhere, change it there too."},
    "leaked.submit": {"ja": "パスワードを変更する", "en": "Change password"},
    "leaked.second_step_otp": {
        "ja": "お客様のパスワードは流出情報の中に見つかったため、パスワードだけではログインできません。"
              "ご本人確認のため、認証アプリに表示されているコードを入力してください"
              "（パスキーでのログインもご利用いただけます）。ログイン後、パスワードを変更していただきます。",
        "en": "Your password was found in leaked credentials, so it no longer logs you in "
              "alone. To confirm it is you, enter the code shown in your authenticator app "
              "(or log in with a passkey). You will then change your password."},
    "leaked.second_step_passkey": {
        "ja": "お客様のパスワードは流出情報の中に見つかったため、パスワードだけではログインできません。"
              "「パスキーでログイン」をお使いください。ログイン後、パスワードを変更していただきます。",
        "en": "Your password was found in leaked credentials, so it no longer logs you in "
              "alone. Use \"Log in with a passkey\"; you will then change your password."},
    "leaked.login_no_second_factor": {
        "ja": "お客様のログインIDとパスワードが流出情報の中に見つかったため、パスワードだけでは"
              "ログインできません。パスキーをお持ちの場合はパスキーでログインしてください。"
              "お持ちでない場合は、お手数ですがカスタマーサポートにお電話ください。",
        "en": "Your login ID and password were found in leaked credentials, so the password "
              "alone no longer logs you in. Log in with a passkey if you have one; otherwise "
              "please call our customer support desk."},
    "error.password_change_required": {
        "ja": "お客様のパスワードは流出情報の中に見つかりました。先にパスワードを変更してください。",
        "en": "Your password was found in leaked credentials. Please change it first."},
    "error.leaked_password_no_second_factor": {
        "ja": "流出が確認されたパスワードだけではログインできません。パスキーでログインするか、"
              "カスタマーサポートにお電話ください。",
        "en": "A password known to be leaked no longer logs you in alone. Log in with a "
              "passkey or call our customer support desk."},
    # --- notifications ---
    "notifications.title": {"ja": "通知設定", "en": "Notification settings"},
    "notifications.settings_title": {"ja": "お知らせの受け取り方", "en": "How you get notices"},
    "notifications.intro": {
        "ja": "ログイン、ご注文、約定などのお知らせを、どの方法で受け取るかを選べます。"
              "当社からのお知らせにリンク（URL）が記載されることはありません。",
        "en": "Choose how you receive notices of logins, orders, executions and more. "
              "Our notices never contain a link."},
    "notifications.mandatory_note": {
        "ja": "「必須」のお知らせ（新しい端末からのログイン、出金、登録情報や出金先口座の変更など）は、"
              "不正利用に早く気づいていただくため、メールでの送信を停止できません。",
        "en": "Notices marked \"required\" (a login from a new device, withdrawals, changes "
              "of your details or bank account and the like) always go by e-mail, so that "
              "you notice any misuse early."},
    "notifications.sms_unavailable": {
        "ja": "SMSでのお知らせは、電話番号をご登録いただき、"
              "当社がSMS配信を提供している場合にご利用いただけます。",
        "en": "Text messages are available once a phone number is registered and where we "
              "offer them."},
    "notifications.push_unavailable": {
        "ja": "アプリへのプッシュ通知は現在ご利用いただけません。",
        "en": "App notifications are not available at the moment."},
    "notifications.kind": {"ja": "お知らせ", "en": "Notice"},
    "notifications.medium.email": {"ja": "メール", "en": "E-mail"},
    "notifications.medium.sms": {"ja": "SMS", "en": "Text message"},
    "notifications.medium.push": {"ja": "アプリ通知", "en": "App"},
    "notifications.required": {"ja": "必須", "en": "required"},
    "notifications.unavailable": {"ja": "利用できません", "en": "not available"},
    "notifications.save": {"ja": "設定を保存", "en": "Save settings"},
    "notifications.back": {"ja": "セキュリティ設定に戻る", "en": "Back to security"},
    "notifications.link_intro": {
        "ja": "ログインやお取引のお知らせを、メール・SMS・アプリのどれで受け取るかを設定できます。",
        "en": "Choose whether notices of logins and trades come by e-mail, text message or "
              "the app."},
    "notifications.link": {"ja": "通知設定を開く", "en": "Open notification settings"},
    "notifications.notice_saved": {"ja": "通知設定を保存しました。",
                                   "en": "Your notification settings were saved."},
    "invalid.mandatory_email": {
        "ja": "このお知らせはメールでの送信を停止できません"
              "（不正利用に気づいていただくための必須のお知らせです）。",
        "en": "E-mail for this notice cannot be switched off: it warns you of changes an "
              "intruder would make."},
    "notifications.kind.login": {"ja": "ログイン", "en": "Login"},
    "notifications.kind.new_device": {"ja": "新しい端末からのログイン",
                                      "en": "Login from a new device"},
    "notifications.kind.failed_login_burst": {"ja": "ログイン失敗の連続",
                                              "en": "Repeated failed logins"},
    "notifications.kind.account_locked": {"ja": "ログインの停止", "en": "Login paused"},
    "notifications.kind.mfa_change": {"ja": "認証方法の登録・削除",
                                      "en": "Sign-in method added or removed"},
    "notifications.kind.mfa_removal_scheduled": {"ja": "認証方法の削除予定",
                                                 "en": "Sign-in method removal scheduled"},
    "notifications.kind.contact_change": {"ja": "連絡先の変更", "en": "Contact details changed"},
    "notifications.kind.password_change": {"ja": "パスワードの変更", "en": "Password changed"},
    "notifications.kind.bank_account_change": {"ja": "出金先口座の変更",
                                               "en": "Withdrawal account changed"},
    "notifications.kind.withdrawal": {"ja": "出金", "en": "Withdrawal"},
    "notifications.kind.order": {"ja": "ご注文の受付", "en": "Order received"},
    "notifications.kind.execution": {"ja": "約定", "en": "Execution"},
    "notifications.kind.recovery_requested": {"ja": "アカウント回復の申込み",
                                              "en": "Account recovery requested"},
    "notifications.kind.recovery_completed": {"ja": "アカウント回復の完了",
                                              "en": "Account recovery completed"},
    "notifications.kind.self_lock": {"ja": "口座ロック", "en": "Account locked by you"},
    "notifications.kind.leaked_credentials": {"ja": "パスワード流出の検知",
                                              "en": "Leaked password found"},
    "notifications.kind.security_alert": {"ja": "不審な操作の検知（取引停止・凍結）",
                                          "en": "Suspicious activity (stopped or frozen)"},
    # --- passkey enrolment ---
    "enrol.required": {
        "ja": "ログインにはパスキーが必要になりました。まずこの端末でパスキーを登録してください。"
              "登録が済むまで、ほかの操作はできません。",
        "en": "A passkey is now required to log in. Register a passkey on this device first; "
              "until you do, nothing else is available."},
    "error.passkey_enrolment_required": {
        "ja": "パスキーの登録が必要です。セキュリティ設定からパスキーを登録してください。",
        "en": "A passkey is required: register one on the security page first."},
}


def translate(key: str, lang: str, **params: Any) -> str:
    """Text for ``key`` in ``lang`` (falling back to Japanese, then the key itself).

    >>> translate("nav.cash", "en")
    'Cash'
    >>> translate("login.previous", "ja", when="4月3日", where="東京")
    '前回ログイン: 4月3日（東京）'
    """
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry[DEFAULT_LANGUAGE]
    return text.format(**params) if params else text


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The language cookie wins; else Japanese unless the browser prefers English.

    >>> pick_language(None, "en-US,en;q=0.9"), pick_language("ja", "en"), pick_language(None, None)
    ('en', 'ja', 'ja')
    """
    if cookie in LANGUAGES:
        return cookie
    if accept_language and accept_language.strip().lower().startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


def format_yen(amount: int | None) -> str:
    """
    >>> format_yen(1234567), format_yen(-5), format_yen(None)
    ('¥1,234,567', '-¥5', '—')
    """
    if amount is None:
        return "—"
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,}"


def format_jst(ts: datetime | str | None, lang: str = "ja") -> str:
    """A UTC time shown in JST.

    >>> from datetime import UTC
    >>> format_jst(datetime(2025, 4, 3, 0, 15, tzinfo=UTC))
    '2025/04/03 09:15 JST'
    """
    if ts is None:
        return "—"
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    local = ts.astimezone(JST)
    return local.strftime("%Y/%m/%d %H:%M JST" if lang == "ja" else "%d %b %Y %H:%M JST")


def format_price(price_minor: int, minor_per_unit: int, currency: str) -> str:
    """
    >>> format_price(2850, 1, "JPY"), format_price(23012, 100, "USD")
    ('¥2,850', '$230.12')
    """
    if minor_per_unit == 1:
        major = f"{price_minor:,}"
    else:
        digits = len(str(minor_per_unit)) - 1
        major = f"{price_minor / minor_per_unit:,.{digits}f}"
    prefix = {"JPY": "¥", "USD": "$", "HKD": "HK$", "CNY": "CN¥"}.get(currency, "")
    return f"{prefix}{major}" if prefix else f"{major} {currency}"
