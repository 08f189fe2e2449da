"""Chinese of the certificate pages, the seal verification page and the API token pages."""

ZH: dict[str, str] = {
    # Navigation
    "Certificates": "证书",
    "Register a certificate": "登记证书",
    "Bulk upload": "批量上传",
    "API tokens": "API 令牌",
    # Certificate fields
    "Certificate": "证书",
    "Certificate number": "证书编号",
    "Issuing body": "发证机构",
    "Holder": "证书持有人",
    "Manufacturer": "生产企业",
    "Product": "产品",
    "Product name": "产品名称",
    "Models": "型号规格",
    "Jurisdiction and scheme": "适用地区与认证制度",
    "Issue date": "发证日期",
    "Expiry date": "有效期至",
    "Test report": "检测报告",
    "Test report (optional)": "检测报告（选填）",
    "Lab code": "实验室代码",
    "Report number": "报告编号",
    "Report date": "报告日期",
    "Name (Chinese)": "名称（中文）",
    "Body code": "机构代码",
    "All": "全部",
    "none": "无",
    "{count} certificates": "共 {count} 张证书",
    "No certificates.": "暂无证书。",
    # Statuses and actions (app.certificates.labels); "Valid" elsewhere means a validity period
    "In force": "有效",
    "Suspend": "暂停",
    "Withdraw": "撤销",
    "Restore": "恢复",
    "Certificate {number} is now {status}.": "证书 {number} 现为“{status}”。",
    "Change the status": "变更状态",
    "Recorded (UTC)": "记录时间（UTC）",
    "No change since registration.": "登记以来无变更。",
    # Seal and label
    "Seal": "印章",
    "QR code of the seal": "印章二维码",
    "The QR code opens": "二维码链接",
    "Print label": "打印标签",
    "Print": "打印",
    "Download the label as PNG": "下载 PNG 标签",
    "No seal has been issued for this certificate.": "该证书尚未签发印章。",
    "Print at 100 % scale. The code is 40 mm wide; keep the white margin around it. The certificate "
    "number under the code lets anyone check it by hand.":
        "请按 100% 比例打印。二维码宽 40 毫米，四周须留白。二维码下方的证书编号便于人工查"
        "验。",
    # Registration
    "The body must have held an active authorization for the category and jurisdiction on the issue "
    "date, and a lab named as tester must have been listed for the category on the report date. The "
    "certificate is sealed at once.":
        "发证之日，机构须具备该类别和适用地区的有效资质；所列检测实验室须在报告日期具备该类别的检测"
        "资质。登记后即签发印章。",
    "Register and seal": "登记并签发印章",
    "Certificate {number} registered and sealed.": "证书 {number} 已登记并签发印章。",
    "{count} certificates registered and sealed.": "已登记 {count} 张证书并签发印章。",
    "Bulk upload of certificates": "批量上传证书",
    "Nothing was registered: the file has {count} problem(s). Fix them and upload the whole file "
    "again.":
        "未登记任何证书：文件有 {count} 处问题。请修正后重新上传整个文件。",
    "Upload a CSV (UTF-8 or GB18030/GBK) or XLSX file: a header row, then one certificate per row, "
    "at most 10,000 rows. Either every certificate is registered and sealed, or none is.":
        "请上传 CSV（UTF-8 或 GB18030/GBK 编码）或 XLSX 文件：首行为表"
        "头，其后每行一张证书，最多 10,000 行。要么全部登记并签发印章，要么一张也不登记。",
    "Dates are YYYY-MM-DD. holder_country and manufacturer_country are ISO codes (default CN); a "
    "Chinese organization needs its unified social credit code. jurisdiction defaults to CN.":
        "日期格式为 YYYY-MM-DD。holder_country 和 manufacture"
        "r_country 为 ISO 国家代码（默认 CN）；中国企业须填写统一社会信用代码。j"
        "urisdiction 默认为 CN。",
    "test_reports lists the reports relied on as LAB_CODE|REPORT_NUMBER|YYYY-MM-DD, several "
    "separated by semicolons.":
        "test_reports 列出所依据的检测报告，格式为 实验室代码|报告编号|YYYY-M"
        "M-DD，多份报告以分号分隔。",
    # API tokens
    "Copy this token now: it is shown only once.": "请立即复制此令牌：它只显示这一次。",
    "Send it as the header Authorization: Bearer <token> with each API request. It acts for body "
    "{body} only.":
        "每次调用 API 时以请求头 Authorization: Bearer <令牌> 发送。"
        "它只能代表机构 {body}。",
    "A token lets a program register certificates and change their status through the JSON API for "
    "one certification body.":
        "令牌供程序通过 JSON API 为一家认证机构登记证书、变更证书状态。",
    "Prefix": "前缀",
    "Last used (UTC)": "最近使用（UTC）",
    "State": "状态",
    "revoked": "已吊销",
    "Revoke": "吊销",
    "No tokens.": "暂无令牌。",
    "Issue a token": "签发令牌",
    "Name (what uses it)": "名称（用途）",
    "Issue token": "签发令牌",
    "Token {prefix}… revoked.": "令牌 {prefix}… 已吊销。",
    # Verification page
    "Seal verification": "印章核验",
    "Verdict code": "结论代码",
    "Transparency log": "透明日志",
    "Latest change: entry #{index}": "最近一次变更：第 {index} 条",
    "inclusion proof": "包含证明",
    "What the seal claims": "印章声明的内容",
    "The seal is genuine, but the registry holds no such certificate.": "印章真实，但登记处没有这张证书。",
    "Do not rely on this product's certificate. If you scanned it from a product, report it to the "
    "market regulator or customs.":
        "请勿信赖该产品的证书。如果是从产品上扫描到的，请向市场监管部门或海关举报。",
    "Checked by the registry at {time}.": "登记处核验时间：{time}。",
    "The verdict reflects the registry at that moment: suspensions, withdrawals and key revocations "
    "count at once.":
        "结论反映登记处当时的记录：暂停、撤销及密钥吊销即时生效。",
}
