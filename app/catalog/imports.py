"""Translations of the official-list import: its pages and the problems registry.importer reports."""

ZH: dict[str, str] = {
    # Pages
    "Import the official list": "导入官方名录",
    "Import: dry run": "导入：试运行",
    (
        "Upload the list as CSV (UTF-8 or GB18030/GBK) or XLSX. Nothing changes until you have read the "
        "dry run and applied it; then the whole file is applied, or nothing."
    ):
        (
            "上传 CSV（UTF-8 或 GB18030/GBK 编码）或 XLSX 格式的名录。阅读试运行结果并确认执行之前不会有"
            "任何改动；执行时整个文件要么全部导入，要么全部不导入。"
        ),
    (
        "The format is the export's: a header row, then one row per scope line, the body's fields "
        "repeated on each row. Columns may come in any order."
    ):
        "格式与导出文件相同：第一行为表头，此后每行一条授权范围，机构信息在每行重复。列的顺序不限。",
    "Required columns": "必填列",
    "Optional columns": "可选列",
    (
        "Dates are YYYY-MM-DD. A province is its two-digit code or its name. status is active (the "
        "default), suspended, withdrawn or expired."
    ):
        (
            "日期格式为 YYYY-MM-DD。省份可填两位代码或名称。status 可为 active（默认）、suspended、withdr"
            "awn 或 expired。"
        ),
    "Bodies and scope lines in the registry but not in the file are withdrawn.":
        "名录中有而文件中没有的机构和授权范围将被撤销。",
    "File": "文件",
    "Dry run": "试运行",
    "Row": "行",
    "Column": "列",
    "Problem": "问题",
    "Errors": "错误",
    "Warnings": "警告",
    "Warnings do not stop the import.": "警告不影响导入。",
    "The file cannot be imported until these problems are fixed. Nothing has been changed.":
        "改正这些问题之前无法导入该文件。名录没有任何改动。",
    "{count} rows": "{count} 行",
    "… and {count} more.": "……另有 {count} 条。",
    "What applying the file would change": "执行导入将产生的变更",
    "Bodies added": "新增机构",
    "Bodies changed": "变更机构",
    "Bodies withdrawn": "撤销机构",
    "Bodies withdrawn (not in the file)": "撤销的机构（文件中没有）",
    "Scope lines added": "新增授权范围",
    "Scope lines changed": "变更授权范围",
    "Scope lines with a new status": "状态变更的授权范围",
    "Scope lines withdrawn": "撤销的授权范围",
    "Scope line changes": "授权范围变更",
    "The file matches the registry; importing it would change nothing.":
        "文件与名录一致，导入不会产生任何变更。",
    "line:added": "新增",
    "line:changed": "变更",
    "line:status": "状态变更",
    "line:withdrawn": "撤销（文件中没有）",
    "Apply the whole file": "执行整个文件的导入",
    "e.g. CNCA announcement no. 12 of 2026": "例如：国家认监委 2026 年第 12 号公告",
    "Upload another file": "上传其他文件",
    "Choose a CSV or XLSX file to upload.": "请选择要上传的 CSV 或 XLSX 文件。",
    "That upload is no longer available; upload the file again.": "该上传文件已不存在，请重新上传。",
    "The registry changed after this dry run. Review the new plan below and apply again.":
        "试运行之后名录已有改动。请核对下面的新变更计划后再执行。",
    "A reason is required.": "必须填写原因。",
    "Nothing was imported.": "没有导入任何内容。",
    (
        "Import applied: {bodies_added} bodies added, {bodies_changed} changed, {bodies_withdrawn} "
        "withdrawn; {lines_added} lines added, {lines_changed} changed, {lines_status_changed} with a "
        "new status, {lines_withdrawn} withdrawn."
    ):
        (
            "导入完成：新增机构 {bodies_added} 家，变更 {bodies_changed} 家，撤销 {bodies_withdrawn} 家；"
            "新增授权范围 {lines_added} 条，变更 {lines_changed} 条，状态变更 {lines_status_changed} 条，"
            "撤销 {lines_withdrawn} 条。"
        ),
    "The file matches the registry; nothing was changed.": "文件与名录一致，没有任何改动。",
    # Problems reported by registry.importer (English templates with {placeholders})
    "the file is empty": "文件为空",
    "legacy .xls workbooks are not supported; save the sheet as .xlsx or CSV":
        "不支持旧版 .xls 工作簿，请另存为 .xlsx 或 CSV",
    "this is a {kind} file, not a CSV or XLSX spreadsheet": "这是 {kind} 文件，不是 CSV 或 XLSX 表格",
    "this is a binary or UTF-16 file; save the sheet as CSV (UTF-8) or XLSX":
        "这是二进制或 UTF-16 文件，请另存为 CSV（UTF-8）或 XLSX",
    "the text is neither UTF-8 nor GB18030 (GBK); save the sheet as CSV UTF-8":
        "文本既不是 UTF-8 也不是 GB18030（GBK）编码，请另存为 CSV UTF-8",
    "the file looks like an XLSX workbook (a zip archive) but is corrupt":
        "文件看似 XLSX 工作簿（zip 压缩包），但已损坏",
    "this zip archive is not an XLSX workbook": "该 zip 压缩包不是 XLSX 工作簿",
    "the workbook unpacks to more than {limit} MB": "工作簿解压后超过 {limit} MB",
    "the workbook has no worksheet": "工作簿中没有工作表",
    "cell {cell} holds a formula; paste values": "单元格 {cell} 含有公式，请粘贴为数值",
    "the workbook cannot be read: {detail}": "无法读取工作簿：{detail}",
    "the CSV is malformed: {detail}": "CSV 格式有误：{detail}",
    "the file has no header row": "文件没有表头行",
    "the header has more than {limit} columns": "表头超过 {limit} 列",
    "the file has more than {limit} rows; split it": "文件超过 {limit} 行，请拆分",
    "the row has values to the right of the last column": "该行在最后一列右侧还有内容",
    "the file has a header but no data rows": "文件只有表头，没有数据行",
    "column {index} has no name": "第 {index} 列没有列名",
    "unknown column {name!r}; use the export's columns": "未知的列 {name!r}，请使用导出文件的列",
    "column {name!r} appears twice": "列 {name!r} 出现了两次",
    "required column {name!r} is missing": "缺少必填列 {name!r}",
    "a value is required": "必须填写",
    "at most {limit} characters": "最多 {limit} 个字符",
    "unknown kind {value!r}; use one of {allowed}": "未知的机构类型 {value!r}，可选：{allowed}",
    "{value!r} is not an ISO 3166 two-letter country code": "{value!r} 不是 ISO 3166 两字母国家代码",
    "unknown province {value!r}": "未知的省份 {value!r}",
    "a unified social credit code has 18 characters from 0-9 and A-Y without I, O, S, V, Z":
        "统一社会信用代码为 18 位，由 0-9 和 A-Y（不含 I、O、S、V、Z）组成",
    "check character is {found}, GB 32100-2015 expects {expected}":
        "校验码为 {found}，按 GB 32100-2015 应为 {expected}",
    "{value!r} is not a valid {scheme} identifier": "{value!r} 不是有效的 {scheme} 编号",
    "unknown jurisdiction {value!r}": "未知的认证地区 {value!r}",
    "unknown product category {value!r}": "未知的产品类别 {value!r}",
    "{value!r} is not a date (YYYY-MM-DD)": "{value!r} 不是日期（YYYY-MM-DD）",
    "valid_until ({until}) is before valid_from ({start})": "有效期止（{until}）早于有效期起（{start}）",
    "unknown status {value!r}; use active, suspended, withdrawn or expired":
        "未知的状态 {value!r}，可选 active、suspended、withdrawn 或 expired",
    "differs from row {first} of the same body ({there!r} there, {here!r} here)":
        "与同一机构第 {first} 行不一致（该行为 {there!r}，本行为 {here!r}）",
    "{value} is also the identifier of body {other} (row {other_row})":
        "{value} 同时是机构 {other}（第 {other_row} 行）的编号",
    "body {other} (row {other_row}) has the same credit code but a different {column}":
        "机构 {other}（第 {other_row} 行）的统一社会信用代码相同，但 {column} 不同",
    "duplicate scope line: row {first} has the same body, jurisdiction, scheme and category":
        "授权范围重复：第 {first} 行的机构、认证地区、认证制度和产品类别与本行相同",
    "valid_from must precede the line's first status change ({day})":
        "有效期起必须早于该授权范围的第一次状态变更（{day}）",
    "a status change is already scheduled for {day}; change this line's status in the admin pages":
        "该授权范围已安排于 {day} 变更状态，请在管理页面中修改其状态",
    "the line starts more than a year ahead; its status cannot be set yet":
        "该授权范围一年以后才开始，暂不能设置其状态",
    "{value} is the identifier of body {other}, which the file does not list":
        "{value} 是机构 {other} 的编号，而文件中没有该机构",
    "a body's kind cannot change ({old} to {new}); withdraw it and add a new body":
        "机构类型不能更改（{old} 改为 {new}），请撤销后新增机构",
    "body {body}: the {category} line starts on {day}, not listed in the file: kept":
        "机构 {body}：{category} 授权范围自 {day} 起才生效，文件未列出，予以保留",
    "a reason is required": "必须填写原因",
    "the import was rolled back: {detail}": "导入已回滚：{detail}",
}
