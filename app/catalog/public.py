"""Translations of the public pages: home, the lists, a body's page."""

ZH: dict[str, str] = {
    # Home
    "The official lists of certification bodies and testing labs authorized for epidemic-prevention "
    "products, with their scopes and history.":
        "防疫物资认证机构和检测实验室的官方名录，含授权范围与变更历史。",
    "Search by name or identifier": "按名称或编号搜索",
    "Name, code, credit code, CNAS/CNCA number…": "名称、编号、统一社会信用代码、CNAS/CNCA 号…",
    "Search": "搜索",
    "Product categories": "产品类别",
    "Bodies that certify products, and inspection bodies, with the categories they may certify.":
        "从事产品认证的机构及检验机构，以及其可认证的产品类别。",
    "Laboratories designated to test products, with the tests they may run.":
        "经指定从事产品检测的实验室，以及其可开展的检测项目。",
    # Lists
    "Category": "产品类别",
    "Jurisdiction": "认证地区",
    "Province": "省份",
    "Status": "状态",
    "As of": "截至日期",
    "Any": "全部",
    "Kind": "类型",
    "Filter": "筛选",
    "Clear filters": "清除筛选",
    "{total} found, as of {day}": "共 {total} 家，截至 {day}",
    "Download": "下载",
    "Code": "编号",
    "Name": "名称",
    "Scope": "授权范围",
    "Nothing matches these filters.": "没有符合条件的机构。",
    "There is no page {page}; the last page is {pages}.": "没有第 {page} 页，最后一页是第 {pages} 页。",
    "Go to the first page": "回到第一页",
    "Previous": "上一页",
    "Next": "下一页",
    "Page {page} of {pages}": "第 {page} / {pages} 页",
    # Problems with the parameters (app/public)
    "Some filters are not valid. Correct them and try again.": "部分筛选条件无效，请更正后重试。",
    "Some parameters are not valid; the page shows today's status instead.":
        "部分参数无效，本页改为显示今天的状态。",
    "“{value}” is not a kind of body listed on this page.": "“{value}”不是本页所列的机构类型。",
    "“{value}” is not a known product category.": "“{value}”不是已知的产品类别。",
    "“{value}” is not a known jurisdiction.": "“{value}”不是已知的认证地区。",
    "“{value}” is not a known province code.": "“{value}”不是已知的省份代码。",
    "“{value}” is not a status: use active, suspended, withdrawn or expired.":
        "“{value}”不是有效的状态，请使用 active、suspended、withdrawn 或 expired。",
    "The search text must have 1 to 100 characters.": "搜索内容须为 1 至 100 个字符。",
    "“{value}” is not a date between 2000-01-01 and 2100-01-01 (write it as YYYY-MM-DD).":
        "“{value}”不是 2000-01-01 至 2100-01-01 之间的日期（格式为 YYYY-MM-DD）。",
    "“{value}” is not a page number: use a whole number from 1 to 10000.":
        "“{value}”不是有效的页码，请使用 1 至 10000 之间的整数。",
    "“{value}” is not a page size: use a whole number from 1 to 100.":
        "“{value}”不是有效的每页条数，请使用 1 至 100 之间的整数。",
    "“{value}” is not a language: use zh or en.": "“{value}”不是支持的语言，请使用 zh 或 en。",
    "“{value}” is not a filter of this page.": "“{value}”不是本页的筛选条件。",
    "“{value}” is not a valid value for {name}.": "“{value}”不是 {name} 的有效取值。",
    # Body page
    "Breadcrumb": "当前位置",
    "as of {day}": "截至 {day}",
    "Show the scope as of": "查看截至该日期的授权范围",
    "Show": "显示",
    "Details": "基本信息",
    "Unified social credit code": "统一社会信用代码",
    "The check character does not match GB 32100-2015. Such codes exist (early pilot regions), so the "
    "code is shown as published; verify it with the issuing authority.":
        "校验码与 GB 32100-2015 不符。此类代码确实存在（早期试点地区），"
        "因此按公布内容显示；请向发证机关核实。",
    "Country or region": "国家或地区",
    "Address": "地址",
    "Website": "网站",
    "Contact": "联系方式",
    "Scheme or legislation": "认证制度或法规",
    "Standards": "标准",
    "Tests": "检测项目",
    "Valid": "有效期",
    "no end date": "长期",
    "Not yet valid": "尚未生效",
    "No scope has been granted.": "尚未授予任何资格。",
    "Status history": "状态变更",
    "From": "起始日期",
    "Until": "终止日期",
    "Scope line": "授权范围",
    "Reason": "原因",
    "No status has been recorded.": "尚无状态记录。",
    "Change history": "变更记录",
    "Time (UTC)": "时间（UTC）",
    "Change": "变更",
    "effective {day}": "{day} 生效",
    "No change has been recorded.": "尚无变更记录。",
    # Keys other areas' templates still use (_("identifier:" ~ scheme), _("not yet valid")); the
    # label filters in app.templating (identifier_label, action_label, ...) are the better way.
    "not yet valid": "尚未生效",
    "identifier:cnca": "CNCA 批准号",
    "identifier:cnas": "CNAS 认可号",
    "identifier:cma": "CMA 资质认定证书编号",
    "identifier:eu_nb": "欧盟公告机构编号",
    "identifier:niosh": "NIOSH 批准号",
    "identifier:other": "其他编号",
    "body:create": "新增机构",
    "body:update": "修改机构信息",
    "body:authorization:grant": "授予资格",
    "body:authorization:update": "修改授权范围",
    "body:authorization:suspend": "暂停资格",
    "body:authorization:withdraw": "撤销资格",
    "body:authorization:restore": "恢复资格",
}
