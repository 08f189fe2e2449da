"""Translations of the misuse alerts: the pages, the labels of stored codes and the services' refusals.

Entries another area also defines ("Kind", "Closed", "Forged" ...) are repeated here with the
same Chinese, so this area stays translated whatever the others do.
"""

ZH: dict[str, str] = {
    # Kinds, statuses, verdicts and channels (app.alerts)
    "Certificate declared by unrelated exporters": "证书被多家无关出口商申报",
    "Seal scanned after withdrawal or key revocation": "证书撤销或密钥吊销后印章仍被扫描",
    "Seal scanned at many ports in a short time": "同一印章短时间内在多个口岸被扫描",
    "Repeated forged seals naming a body": "冒用某机构名义的伪造印章反复出现",
    "Open": "待处理",
    "Acknowledged": "已确认",
    "Closed": "已结案",
    "Valid seal": "印章有效",
    "Forged": "伪造",
    "Key revoked": "密钥已吊销",
    "Not registered": "未登记",
    "Body not authorized": "发证机构无资质",
    "Certificate withdrawn": "证书已撤销",
    "Certificate suspended": "证书已暂停",
    "Certificate expired": "证书已过期",
    "Body's authorization ended": "发证机构资质已终止",
    "Scan page": "扫码页面",
    "API": "API 接口",
    "Customs check": "海关核验",
    # The detail of an alert
    "Unrelated exporters (declarations)": "无关出口商（申报次数）",
    "Holder and manufacturer (not counted)": "持证人和制造商（不计入）",
    "Window (days)": "统计时段（天）",
    "Window (hours)": "统计时段（小时）",
    "Ports (scans)": "口岸（扫描次数）",
    "Body named": "印章所称机构",
    "Certificate number named": "印章所称证书编号",
    "Signing key": "签名密钥",
    "Verdicts (scans)": "核验结论（扫描次数）",
    "Channels (scans)": "渠道（扫描次数）",
    "Certificate numbers named (scans)": "所称证书编号（扫描次数）",
    "Forged scans in the window": "统计时段内的伪造扫描次数",
    # Pages
    "Misuse alerts": "滥用预警",
    (
        "Patterns in the scan log that suggest seals or certificates are being misused. An alert "
        "stays open, counting new scans, until it is closed."
    ): "扫描日志中提示印章或证书可能被滥用的情况。预警在结案之前保持有效，并持续累计新的扫描。",
    "Kind": "类型",
    "All": "全部",
    "Status": "状态",
    "Filter": "筛选",
    "{count} alerts": "{count} 条预警",
    "Subject": "对象",
    "Body": "机构",
    "Certificate": "证书",
    "First seen (UTC)": "首次发现（UTC）",
    "Last seen (UTC)": "最近发现（UTC）",
    "Occurrences": "次数",
    "No alerts.": "没有预警。",
    "Alert {id}": "预警 {id}",
    "All alerts": "全部预警",
    "Scans behind this alert": "引发此预警的扫描",
    "The scan log rows of this subject between first and last seen, newest first (at most 200).":
        "此对象在首次与最近发现之间的扫描日志记录，最新的在前（最多 200 条）。",
    "Time (UTC)": "时间（UTC）",
    "Channel": "渠道",
    "Port": "口岸",
    "Verdict": "核验结论",
    "Exporter": "出口商",
    "Certificate named": "所称证书",
    "No scans.": "没有扫描记录。",
    "History": "处理记录",
    "Actor": "操作人",
    "Action": "操作",
    "Note": "备注",
    "Acknowledge": "确认",
    "Close": "结案",
    "Load the current version": "载入最新版本",
    "Acknowledge or close on the admin page": "在管理页面确认或结案",
    "Alert {id} acknowledged.": "预警 {id} 已确认。",
    "Alert {id} closed.": "预警 {id} 已结案。",
    # Refusals of registry.alerts, shown above the form
    "a note is required to close an alert (what was found or done)":
        "结案须填写备注（查明的情况或采取的措施）。",
    "the alert was changed meanwhile (new scans or another admin); reload and try again":
        "此预警已被更新（有新的扫描或其他管理员已处理），请重新载入后再试。",
    "cannot acknowledge an alert that is acknowledged": "预警已确认，不能再次确认。",
    "cannot acknowledge an alert that is closed": "预警已结案，不能确认。",
    "cannot close an alert that is closed": "预警已结案，不能再次结案。",
    "the note is longer than 2000 characters": "备注超过 2000 个字符。",
}
