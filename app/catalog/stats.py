"""Translations of the weekly statistics page and the dashboard's summary of the week."""

ZH: dict[str, str] = {
    # Page and navigation
    "Weekly statistics": "每周统计",
    "Week ending (Thursday 17:00 Beijing time)": "统计周截止日（周四北京时间 17:00）",
    "From {start} to {end} (Beijing time, UTC+8).": "统计区间：{start} 至 {end}（北京时间，UTC+8）。",
    "{day} is not a Thursday: showing the week that contains it, which ends on {end}.":
        "{day} 不是周四：显示包含该日的统计周，截止于 {end}。",
    "This week has not ended yet: the figures are those recorded so far.":
        "本周尚未结束：数字为截至目前的记录。",
    "This week, to Thursday {day} 17:00": "本周（截至周四 {day} 17:00）",
    "Charts": "图表",
    "By province and category": "按省份和产品类别",
    "Bodies and labs are those with a scope line in force at the cut-off; a body listed for several "
    "categories counts in each. Verifications without a certificate (forged seals) and complaints "
    "have no province or category.":
        "机构与实验室指截止时有有效授权范围者；同一机构列入多个类别时在每个类别中各计一次。"
        "无对应证书的核验（伪造印章）和投诉不区分省份和类别。",
    "Listed at the cut-off, each counted once: {bodies} bodies, {labs} labs.":
        "截止时在册（每家只计一次）：机构 {bodies} 家，实验室 {labs} 家。",
    "Nothing this week.": "本周无记录。",
    "No province": "无省份",
    "No category": "无类别",
    "Total": "合计",
    # Columns
    "Bodies listed": "在册机构",
    "Labs listed": "在册实验室",
    "Certificates registered": "新登记证书",
    "Certificates suspended": "暂停证书",
    "Certificates withdrawn": "撤销证书",
    "Verifications": "核验次数",
    "Misuse alerts": "滥用预警",
    "Complaints received": "收到投诉",
    "Complaints closed": "办结投诉",
    "Verdict": "核验结论",
    # Charts
    "Verifications by verdict": "按核验结论统计核验次数",
    "Certificates registered per category": "按产品类别统计新登记证书",
    # Verdicts
    "Genuine and valid": "真实有效",
    "Forged": "伪造",
    "Key revoked": "密钥已吊销",
    "Not registered": "未登记",
    "Body not authorized": "发证机构无资质",
    "Certificate withdrawn": "证书已撤销",
    "Certificate suspended": "证书已暂停",
    "Certificate expired": "证书已过期",
    "Body authorization ended": "发证机构资质已终止",
    # Problems with ?week=
    "“{value}” is not a date of the form YYYY-MM-DD.": "“{value}”不是 YYYY-MM-DD 格式的日期。",
    "Unknown parameter: {names}.": "未知参数：{names}。",
    "The week must lie between {first} and {last}.": "统计周须在 {first} 与 {last} 之间。",
}
