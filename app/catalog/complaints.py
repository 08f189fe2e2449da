"""Translations of the complaint pages: the public report form, the admin ledger, credit records."""

ZH: dict[str, str] = {
    # Public report form (complaints/report.html, received.html, base.html, the seal page)
    "Report a suspicious certificate": "举报可疑证书",
    "Report a suspicious certificate, seal, body or lab": "举报可疑的证书、防伪印章、认证机构或实验室",
    "Report this": "举报此情况",
    "Tell the regulator about a certificate or seal that may be forged or misused, or a body or lab "
    "that may not be working as it should. Every report is read; you do not have to give your name.":
        "如发现证书或防伪印章可能被伪造或冒用，或认证机构、实验室可能存在违规行为，请告知监管部门。"
        "每一份举报都会被阅读；您无需留下姓名。",
    "What is suspicious?": "可疑对象",
    "Certificate number, seal address or name of the body": "证书编号、印章网址或机构名称",
    "What did you notice?": "您发现了什么？",
    "Your name (optional)": "您的姓名（选填）",
    "Phone or e-mail, if we may contact you (optional)": "电话或电子邮箱，如愿意我们与您联系（选填）",
    "A photo or document (optional: PDF, PNG or JPEG, at most {size} MB)":
        "照片或文件（选填：PDF、PNG 或 JPEG，最大 {size} MB）",
    "Your name and contact details are seen only by the regulator's staff handling the report.":
        "您的姓名和联系方式仅供处理举报的监管部门工作人员查看。",
    "Send the report": "提交举报",
    "Report received": "举报已收到",
    "Thank you: your report has been received": "感谢您：您的举报已收到",
    "Reference of your report": "举报编号",
    "Please quote this reference if you contact the regulator about your report. If you left contact "
    "details, the staff handling it may get in touch with you.":
        "如就本举报联系监管部门，请提供此编号。如您留下了联系方式，处理人员可能会与您联系。",
    "Back to the registry": "返回名录",
    # What a report is about (app.complaints.SUBJECT_LABELS)
    "A certificate": "证书",
    "A seal (QR code)": "防伪印章（二维码）",
    "A certification body": "认证机构",
    "A testing lab": "检测实验室",
    "Something else": "其他",
    # Problems with a report (app.complaints.report)
    "Choose what the report is about.": "请选择举报对象。",
    "Name the certificate, seal or body in at most 500 characters, on one line.":
        "请用不超过 500 个字符（单行）填写证书、印章或机构。",
    "Describe what is suspicious, in at most 5000 characters.": "请描述可疑情况，不超过 5000 个字符。",
    "Your name may have at most 100 characters, on one line.": "姓名不能超过 100 个字符，且只能为单行。",
    "Your contact details may have at most 200 characters, on one line.":
        "联系方式不能超过 200 个字符，且只能为单行。",
    "The attachment is larger than 5 MB.": "附件超过 5 MB。",
    "The attachment must be a PDF, PNG or JPEG file.": "附件必须是 PDF、PNG 或 JPEG 文件。",
    "The attachment's name or type does not match its content (PDF, PNG or JPEG).":
        "附件的文件名或类型与其内容（PDF、PNG 或 JPEG）不符。",
    "The attachment is empty.": "附件为空。",
    "The form sent inputs it does not have; please reload the page and try again.":
        "表单提交了未知的字段；请刷新页面后重试。",
    "Please correct the marked fields; nothing has been sent yet.": "请更正标出的字段；举报尚未提交。",
    "The report is too large (an attachment may have at most 5 MB); nothing was sent.":
        "举报内容过大（附件最大 5 MB）；未提交任何内容。",
    "The form has expired; nothing was sent. Please check your input and send it again.":
        "表单已过期；未提交任何内容。请检查填写内容后重新提交。",
    # Complaint statuses (app.complaints.STATUS_LABELS)
    "Received": "已收到",
    "Triaged": "已初审",
    "Investigating": "调查中",
    "Substantiated": "查证属实",
    "Closed": "已结案",
    # Credit measures (app.complaints.CREDIT_LABELS)
    "Warning": "警告",
    "Suspension": "暂停",
    "Withdrawal": "撤销",
    # The ledger (complaints/list.html, detail.html, credit_records.html)
    "Complaints": "投诉举报",
    "Complaint ledger": "投诉举报台账",
    "Overdue": "已逾期",
    "Overdue only": "仅显示已逾期",
    "overdue": "已逾期",
    "Reference": "编号",
    "Received (UTC)": "收到时间（UTC）",
    "About": "举报对象",
    "In charge": "负责人",
    "Due": "办结期限",
    "No complaint matches these filters.": "没有符合条件的投诉举报。",
    "Description": "情况描述",
    "Reporter": "举报人",
    "Language of the report": "举报语言",
    "Closed (UTC)": "结案时间（UTC）",
    "Outcome": "处理结果",
    "Attachments": "附件",
    "No attachment.": "无附件。",
    "Linked certificates and bodies": "关联的证书与机构",
    "Remove": "移除",
    "Nothing linked yet.": "尚未关联。",
    "Certificate number (to link one of its certificates)": "证书编号（关联该机构的某张证书时填写）",
    "Link": "关联",
    "History": "处理记录",
    "Note": "备注",
    "New status": "新状态",
    "Note (required to close: it becomes the outcome)": "备注（结案时必填，作为处理结果）",
    "Person in charge and due date": "负责人与办结期限",
    "Nobody": "无",
    "Add a note": "添加备注",
    "Add the note": "添加",
    "Complaint {reference} is now {status}.": "投诉举报 {reference} 的状态已变为：{status}。",
    "Complaint {reference} saved.": "已保存投诉举报 {reference}。",
    # Credit records
    "Credit record": "信用记录",
    "Credit records": "信用记录",
    "Complaint": "投诉举报",
    "Measure": "措施",
    "Reason (public)": "原因（公开）",
    "Body code or unified social credit code": "机构编号或统一社会信用代码",
    "Enter the credit record": "录入信用记录",
    "Enter a credit record without a complaint": "直接录入信用记录（无投诉举报）",
    "No credit record has been entered.": "尚未录入信用记录。",
    "The complaint is substantiated: a warning, suspension or withdrawal entered here is shown on the "
    "organization's public page.":
        "该投诉举报已查证属实：在此录入的警告、暂停或撤销将显示在该机构的公开页面上。",
    "Credit records are public: the organization's page in the registry shows each one with its reason.":
        "信用记录是公开的：名录中该机构的页面会显示每一条记录及其原因。",
    "Credit record entered: {kind}, effective {day}.": "已录入信用记录：{kind}，自 {day} 起生效。",
}
