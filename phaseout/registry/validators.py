from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc


def normalize_uscc(value: str) -> str:
    return uscc.compact(value or "")


def validate_uscc(value: str) -> None:
    """Check a USCC against GB 32100-2015, its check character included."""
    try:
        uscc.validate(value)
    except stdnum_errors.InvalidLength:
        raise ValidationError(_("A USCC has 18 characters."), code="uscc_length") from None
    except stdnum_errors.InvalidChecksum:
        raise ValidationError(
            _("The check character of this USCC is wrong; please check the code."), code="uscc_checksum"
        ) from None
    except stdnum_errors.ValidationError:
        raise ValidationError(
            _("This is not a valid USCC (digits and capital letters, no I, O, S, V or Z)."),
            code="uscc_format",
        ) from None
