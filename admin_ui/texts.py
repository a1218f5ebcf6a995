"""The UI's own words (buttons, headings, messages) in each shipped language; everything
else on a page comes from the packs' labels."""

from __future__ import annotations

__all__ = ["TEXTS"]

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "app": "metacrm",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "username": "Username",
        "password": "Password",
        "stale_form": "The form was stale; please try again.",
        "home": "Home",
        "new": "New",
        "edit": "Edit",
        "save": "Save",
        "cancel": "Cancel",
        "next_page": "Next page",
        "first_page": "First page",
        "no_records": "No records to show.",
        "errors": "Please correct the highlighted fields.",
        "conflict": "Someone else changed this record while you were editing. Their "
        "version is shown below with your changes kept in the boxes; check them and save "
        "again.",
        "language": "Language",
        "required": "required",
        "menu": "Menu",
        "views": "List views",
        "comment": "Comment",
        "search": "Search",
        "approvals": "Approvals",
        "approve": "Approve",
        "reject": "Reject",
        "inbox_empty": "Nothing awaits your decision.",
        "not_found": "There is no such record, or it is not yours to see.",
    },
    "zh-CN": {
        "app": "metacrm",
        "sign_in": "登录",
        "sign_out": "退出",
        "username": "用户名",
        "password": "密码",
        "stale_form": "表单已过期，请重试。",
        "home": "首页",
        "new": "新建",
        "edit": "编辑",
        "save": "保存",
        "cancel": "取消",
        "next_page": "下一页",
        "first_page": "第一页",
        "no_records": "暂无记录。",
        "errors": "请修改标出的字段。",
        "conflict": "您编辑期间，他人修改了这条记录。下方为对方保存后的版本，"
        "您的修改仍保留在输入框中；请核对后再次保存。",
        "language": "语言",
        "required": "必填",
        "menu": "菜单",
        "views": "列表视图",
        "comment": "备注",
        "search": "搜索",
        "approvals": "待审批",
        "approve": "批准",
        "reject": "驳回",
        "inbox_empty": "暂无待您审批的事项。",
        "not_found": "记录不存在，或您无权查看。",
    },
}
