"""Translations of the sign-in pages."""

ZH: dict[str, str] = {
    "Username": "用户名",
    "Password": "密码",
    "Wrong username or password.": "用户名或密码错误。",
}
