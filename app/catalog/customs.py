"""Translations of the customs pages: the check of one seal with its declaration, and bulk checks."""

ZH: dict[str, str] = {
    # Navigation
    "Customs checks": "海关核验",
    "Check a seal and its declaration": "核验印章与申报",
    "Bulk check": "批量核验",
    # The check page
    "Declaration checks": "申报核对",
    "Checked for {day}.": "核对日期：{day}。",
    "Check": "核对",
    "Result": "结果",
    "Stored status": "登记状态",
    (
        "Scan the seal's QR code with the handheld scanner (it types into the focused field and "
        "presses Enter) or paste the seal URL. The declaration filled in below is checked with it "
        "and kept for the next seal."
    ): (
        "用手持扫码枪扫描印章二维码（扫码枪会输入到当前光标所在的输入框并自动回车），或粘贴印章网址。"
        "下方填写的申报内容将一并核对，并保留用于下一个印章。"
    ),
    "Scanned seal (URL or token)": "扫描的印章（网址或令牌）",
    "Declaration": "申报内容",
    "Exporter's unified social credit code": "出口商统一社会信用代码",
    "Manufacturer's unified social credit code": "生产企业统一社会信用代码",
    "HS code (6 to 10 digits)": "HS编码（6至10位数字）",
    "Product description": "商品描述",
    "Quantity": "数量",
    "Declaration date": "申报日期",
    "New declaration": "新的申报",
    # Check names and outcomes
    "Exporter or manufacturer": "出口商或生产企业",
    "HS code": "HS编码",
    "Certificate on the date": "申报日期的证书状态",
    "Body's authorization on the date": "申报日期的发证机构资质",
    "Match": "相符",
    "To verify": "需核实",
    "Mismatch": "不符",
    "Not checked": "未核对",
    "Invalid row": "无效行",
    # Bulk checks
    "Bulk customs check": "海关批量核验",
    "{count} row(s) could not be checked: they are listed here and marked in the results.": (
        "有 {count} 行无法核对：已在此列出，并在结果中标明。"
    ),
    "Nothing was checked: the file has {count} problem(s). Fix them and upload the file again.": (
        "未进行任何核对：文件有 {count} 个问题。请修正后重新上传。"
    ),
    "Results": "核验结果",
    "Download all {count} rows:": "下载全部 {count} 行：",
    "(kept for 24 hours, for you only)": "（保留 24 小时，仅本人可下载）",
    "The first {shown} rows are shown; the downloads have all {count}.": (
        "此处显示前 {shown} 行；下载文件包含全部 {count} 行。"
    ),
    "Another file": "核验其他文件",
    (
        "Upload a CSV (UTF-8 or GB18030/GBK) or XLSX file: a header row, then one declaration per "
        "row with the seal scanned for it, at most 10,000 rows. Every well-formed row is checked; "
        "malformed rows are listed with their problems."
    ): (
        "上传 CSV（UTF-8 或 GB18030/GBK 编码）或 XLSX 文件：第一行为表头，此后每行一份申报及为其扫描的印章，"
        "最多 10,000 行。格式正确的行均会核对；格式有误的行会列出其问题。"
    ),
    "Required column": "必填列",
    (
        "Credit codes have 18 characters; the HS code 6 to 10 digits; the declaration date is "
        "YYYY-MM-DD (default: today)."
    ): "统一社会信用代码为 18 位；HS编码为 6 至 10 位数字；申报日期格式为 YYYY-MM-DD（默认为当天）。",
    "Check all": "全部核对",
}
